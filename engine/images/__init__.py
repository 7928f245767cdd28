"""Images: references, the blob and image store, layer unpacking, archives, import, registry.

    reference.py   Docker's reference rules (parse, normalize, familiar)
    blobs.py       content-addressed blobs, verified on the way in; chain ids
    tarstream.py   a layer's bytes: decompression, chunked reads, the diff_id as it goes
    unpack.py      layer tarball -> overlay-form diff dir, refusing hostile entries
    store.py       ImageStore: resolve, images, add_image, create_image, delete
    records.py     image records read with care, rebuilt from their blobs
    names.py       refs.json: tag, untag, lookup; rebuilt from the records' copies
    layers.py      layers in overlay form: unpack into place, add_layer, remove
    journal.py     the journal that makes every change whole; the busy lock
    scratch.py     scratch in tmp/ named by process; trees removed without recursion
    users.py       what containers use of the store
    garbage.py     orphan layers and blobs, stale scratch and partial downloads
    check.py       check_images for `berth system check`
    archive.py     load: OCI layout tars and docker save archives
    export.py      save: the same, written
    importer.py    import of a root filesystem tarball, --change instructions
    remove.py      rmi and image prune, with Docker's rules
    describe.py    Docker-shaped inspect and history
    api.py         ImagesAPI, the Engine mixin over all of the above
    distribution.py  one registry connection: ping, TLS and certs.d, bearer and basic auth, retries
    registry_client.py  manifests, tags, catalog, blob fetch (Range resume) and upload, mounts
    manifests.py   media types, platform choice in indexes and manifest lists
    pull.py, push.py, search.py, transfer.py   the verbs and what pull and push share
    auth.py        credentials kept like Docker's config.json

Nothing is imported here: ``import engine`` stays light.
"""
