"""berth build: Dockerfiles to images on berth's own image store and runtime, no external
builder. dockerfile.py parses, expand.py expands variables as Docker does, ignore.py reads
.dockerignore, context.py puts a build context on disk; the executor and its cache sit beside them.
"""
