"""Images: references, the blob and image store, layer unpacking, archives, import, registry.

    reference.py   Docker's reference rules (parse, normalize, familiar)
    blobs.py       content-addressed blobs, verified on the way in; chain ids
    tarstream.py   a layer's bytes: decompression, chunked reads, the diff_id as it goes
    unpack.py      layer tarball -> overlay-form diff dir, refusing hostile entries
    store.py       ImageStore: resolve, layer_dirs, ingest_blob, add_image, add_layer, tag, delete
    archive.py     load and save: OCI layout tars and docker save archives
    importer.py    import of a root filesystem tarball, --change instructions
    remove.py      rmi and image prune, with Docker's rules
    describe.py    Docker-shaped inspect and history
    api.py         ImagesAPI, the Engine mixin over all of the above
    registry.py    pull, push, search (with auth.py for credentials)

Nothing is imported here: ``import engine`` stays light.
"""
