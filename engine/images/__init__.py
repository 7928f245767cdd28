"""Images: references, the blob and image store, layer unpacking, archives, import, registry.

    reference.py   Docker's reference rules (parse, normalize, familiar)
    blobs.py       content-addressed blobs, verified on the way in; chain ids
    tarstream.py   a layer's bytes: decompression, chunked reads, the diff_id as it goes
    unpack.py      layer tarball -> overlay-form diff dir, refusing hostile entries
    store.py       ImageStore: records, resolve, add_image, create_image, delete
    names.py       refs.json: tag, untag, lookup
    layers.py      layers in overlay form: unpack into place, add_layer, scratch space in tmp/
    users.py       what containers use of the store
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
