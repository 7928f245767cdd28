"""berth images, image (ls, inspect, rm, prune, tag, history, load, save, import), load, save,
import, tag, rmi and history: the image verbs, printed as the docker CLI prints them."""

from __future__ import annotations

import os
import sys

from .common import ago, get_engine, human_size, print_json, print_json_lines, print_table


def register(sub) -> None:
    _images(sub.add_parser("images", help="list images"))
    img = sub.add_parser("image", help="manage images")
    isub = img.add_subparsers(dest="image_command", metavar="COMMAND")
    _images(isub.add_parser("ls", aliases=["list"], help="list images"))
    _inspect(isub.add_parser("inspect", help="show images as JSON"))
    _rmi(isub.add_parser("rm", aliases=["remove"], help="remove images"))
    _prune(isub.add_parser("prune", help="remove unused images"))
    _tag(isub.add_parser("tag", help="give an image another name"))
    _history(isub.add_parser("history", help="show the layers of an image"))
    _load(isub.add_parser("load", help="load images from an archive"))
    _save(isub.add_parser("save", help="write images to an archive"))
    _import(isub.add_parser("import", help="make an image from a root filesystem tarball"))
    img.set_defaults(func=lambda a: img.print_help() or 0)
    _load(sub.add_parser("load", help="load images from an archive"))
    _save(sub.add_parser("save", help="write images to an archive"))
    _import(sub.add_parser("import", help="make an image from a root filesystem tarball"))
    _tag(sub.add_parser("tag", help="give an image another name"))
    _rmi(sub.add_parser("rmi", help="remove images"))
    _history(sub.add_parser("history", help="show the layers of an image"))


# --- parsers ---------------------------------------------------------------------------------

def _images(p) -> None:
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-a", "--all", action="store_true", help="show all images")
    p.add_argument("-q", "--quiet", action="store_true", help="only image ids")
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument("--no-trunc", action="store_true", help="full image ids")
    p.add_argument("-f", "--filter", action="append", default=[],
                   help="dangling=true|false, reference=PATTERN, label=KEY[=VALUE]")
    p.add_argument("--format", help="'table' (default), 'json' (one object per line) or a "
                                    "Go-style template ({{.Repository}}:{{.Tag}})")
    p.set_defaults(func=cmd_images)


def _inspect(p) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--format", help="'json' or a Go template, e.g. '{{.Id}}'")
    p.set_defaults(func=cmd_inspect)


def _rmi(p) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--force", action="store_true",
                   help="remove even when containers (stopped) use it, or it has several names")
    p.set_defaults(func=cmd_rmi)


def _prune(p) -> None:
    p.add_argument("-a", "--all", action="store_true",
                   help="every image no container uses, not only dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="do not ask")
    p.set_defaults(func=cmd_prune)


def _tag(p) -> None:
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    p.set_defaults(func=cmd_tag)


def _history(p) -> None:
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-H", "--human", default="true", choices=("true", "false"))
    p.add_argument("--format", help="'table' (default), 'json' or a Go template")
    p.set_defaults(func=cmd_history)


def _load(p) -> None:
    p.add_argument("-i", "--input", help="archive to read (default: stdin)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_load)


def _save(p) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    p.add_argument("--format", default="oci-archive", choices=("oci-archive", "docker-archive"))
    p.set_defaults(func=cmd_save)


def _import(p) -> None:
    p.add_argument("file", metavar="FILE|-")
    p.add_argument("ref", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-c", "--change", action="append", default=[],
                   help="Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, ...)")
    p.add_argument("-m", "--message", default="", help="commit message")
    p.add_argument("--platform", help="accepted for Docker compatibility")
    p.set_defaults(func=cmd_import)


# --- handlers --------------------------------------------------------------------------------

# the column names of docker's images and history table formats, by field
IMAGES_HEADER = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
                 "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                 "Containers": "CONTAINERS", "VirtualSize": "SIZE",
                 "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}
HISTORY_HEADER = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                  "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

def _rows(images):
    """(image, repository, tag, digest) per name of each image, as ``docker images`` lists
    them: one row per tag, a digest-only row for a name pulled by digest, <none> if nameless."""
    from engine.public import parse_reference as parse
    for img in images:
        names = []
        for t in img.repo_tags:
            r = parse(t)
            names.append((r.familiar_name, r.tag, r.name))
        digest_of = {}
        for d in img.repo_digests:
            r = parse(d)
            digest_of.setdefault(r.name, r.digest)
        if not names:
            if img.repo_digests:
                for d in img.repo_digests:
                    r = parse(d)
                    yield img, r.familiar_name, "<none>", r.digest
                continue
            yield img, "<none>", "<none>", "<none>"
            continue
        for repo, tag, full in names:
            yield img, repo, tag, digest_of.get(full, "<none>")


def _matches(filter_ref: str | None, repo: str, tag: str) -> bool:
    """Whether a row passes ``berth images REPOSITORY[:TAG]``."""
    if not filter_ref:
        return True
    from engine.errors import InvalidArgument
    from engine.public import parse_reference as parse
    try:
        r = parse(filter_ref)
    except InvalidArgument:
        return False
    return repo == r.familiar_name and (not r.tag or tag == r.tag)


def _filtered(rows, filters: list[str]):
    """Rows passing Docker's ``images --filter`` keys dangling, reference and label."""
    import fnmatch

    from engine.errors import InvalidArgument
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq or key not in ("dangling", "reference", "label"):
            raise InvalidArgument(f"invalid filter '{f}': use dangling=true|false, "
                                  "reference=PATTERN or label=KEY[=VALUE]")
        if key == "dangling":
            want = value.lower() in ("true", "1")
            rows = [r for r in rows if (not r[0].repo_tags) == want]
        elif key == "reference":
            rows = [r for r in rows if fnmatch.fnmatchcase(r[1], value)
                    or fnmatch.fnmatchcase(f"{r[1]}:{r[2]}", value)]
        else:
            k, has, v = value.partition("=")
            rows = [r for r in rows if k in (r[0].config.get("Labels") or {})
                    and (not has or (r[0].config.get("Labels") or {}).get(k) == v)]
    return rows


def cmd_images(args) -> int:
    engine = get_engine()
    images = engine.images(all=args.all)
    rows = [r for r in _rows(images) if _matches(args.repository, r[1], r[2])]
    rows = _filtered(rows, args.filter)
    if args.quiet:
        seen = []
        for img, *_ in rows:
            i = img.id if args.no_trunc else img.short_id
            if i not in seen:
                seen.append(i)
        for i in seen:
            print(i)
        return 0
    if args.format and args.format != "table":
        if "{{" not in args.format and args.format != "json":
            from engine.errors import InvalidArgument
            raise InvalidArgument(f"unsupported --format '{args.format}': use table, json or "
                                  "a template such as '{{.Repository}}:{{.Tag}}'")
        from tui.gotemplate.docker import context, format_rows, go_time

        from .system import human_size as human_size4
        sys.stdout.write(format_rows(args.format, [context("*formatter.imageContext", {
            "Containers": "N/A",
            "CreatedAt": go_time(img.created, seconds=True) if img.created else "N/A",
            "CreatedSince": ago(img.created) if img.created else "N/A",
            "Digest": digest, "ID": img.id if args.no_trunc else img.short_id,
            "Repository": repo, "SharedSize": "N/A", "Size": human_size(img.size), "Tag": tag,
            "UniqueSize": "N/A", "VirtualSize": human_size4(img.size)})
            for img, repo, tag, digest in rows], IMAGES_HEADER))
        return 0
    headers = ["REPOSITORY", "TAG"] + (["DIGEST"] if args.digests else []) + \
        ["IMAGE ID", "CREATED", "SIZE"]
    table = []
    for img, repo, tag, digest in rows:
        table.append([repo, tag] + ([digest] if args.digests else []) +
                     [img.id if args.no_trunc else img.short_id,
                      ago(img.created) if img.created else "N/A", human_size(img.size)])
    print_table(headers, table)
    return 0


def cmd_inspect(args) -> int:
    engine = get_engine()
    out, code = [], 0
    for ref in args.images:
        try:
            out.append(engine.image_inspect(ref))
        except Exception as e:
            from engine.errors import BerthError
            if not isinstance(e, BerthError):
                raise
            print(f"berth: {e}", file=sys.stderr)
            code = 1
    if args.format:
        from tui.gotemplate.docker import format_inspect
        sys.stdout.write(format_inspect(args.format, out))
    else:
        print_json(out)
    return code


def cmd_rmi(args) -> int:
    from engine.errors import BerthError
    engine = get_engine()
    code = 0
    for ref in args.images:
        try:
            for line in engine.remove_image(ref, force=args.force):
                print(line)
        except BerthError as e:
            print(f"berth: {e}", file=sys.stderr)
            code = 1
    return code


def cmd_prune(args) -> int:
    engine = get_engine()
    removed, reclaimed = engine.prune_images(all=args.all)
    if removed:
        print("Deleted Images:")
        for i in removed:
            print(f"deleted: {i}")
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0


def cmd_tag(args) -> int:
    get_engine().tag(args.source, args.target)
    return 0


def cmd_history(args) -> int:
    engine = get_engine()
    rows = engine.history(args.image)
    if args.quiet:
        for r in rows:
            i = r["Id"]
            print(i if args.no_trunc or i == "<missing>" else i[7:19])
        return 0
    if args.format == "json":
        print_json_lines(rows)
        return 0
    if args.format and args.format != "table":
        from tui.gotemplate.docker import context, format_rows
        sys.stdout.write(format_rows(args.format, [context("*image.historyContext", {
            "ID": r["Id"] if args.no_trunc or r["Id"] == "<missing>" else r["Id"][7:19],
            "CreatedSince": ago(r["Created"]) if r["Created"] else "N/A",
            "CreatedAt": r["Created"].split(".")[0].rstrip("Z") + "Z" if r["Created"] else "N/A",
            "CreatedBy": r["CreatedBy"] or "", "Size": human_size(r["Size"]),
            "Comment": r["Comment"] or ""}) for r in rows], HISTORY_HEADER))
        return 0
    table = []
    for r in rows:
        i = r["Id"] if args.no_trunc or r["Id"] == "<missing>" else r["Id"][7:19]
        by = r["CreatedBy"] or ""
        if not args.no_trunc and len(by) > 45:
            by = by[:44] + "…"
        size = human_size(r["Size"]) if args.human == "true" else str(r["Size"])
        table.append([i, ago(r["Created"]) if r["Created"] else "N/A", by, size,
                      r["Comment"] or ""])
    print_table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], table)
    return 0


def cmd_load(args) -> int:
    from engine.errors import InvalidArgument
    engine = get_engine()
    path = args.input
    tmp = None
    if not path or path == "-":
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is a terminal: use "
                                  "-i FILE or pipe an archive in")
        if getattr(engine, "remote", False):   # streamed to the engine as it is read
            path = sys.stdin.buffer
        else:
            tmp = engine.image_store.scratch_path("stdin.tar")
    if getattr(engine, "remote", False):
        images = engine.load(path)
    else:
        images = _load_local(engine, path, tmp)
    from engine.public import familiar
    if not args.quiet:
        for img in images:
            # the names the archive brought, as docker load reports them
            for t in getattr(img, "loaded_tags", img.repo_tags):
                print(f"Loaded image: {familiar(t)}")
            if not getattr(img, "loaded_tags", img.repo_tags):
                print(f"Loaded image ID: {img.id}")
    return 0


def _load_local(engine, path: str, tmp: str | None):
    with engine.image_store.busy():   # keeps prune off the scratch copy of stdin
        try:
            if tmp:
                import shutil
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
                path = tmp
            return engine.load(path)
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)


def cmd_save(args) -> int:
    from engine.errors import InvalidArgument
    engine = get_engine()
    if args.output:
        engine.save(args.images, args.output, args.format)
        return 0
    if sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to save to a terminal: use -o FILE or "
                              "redirect stdout")
    if getattr(engine, "remote", False):   # the engine's archive as it comes
        engine.save(args.images, sys.stdout.buffer, args.format)
        sys.stdout.buffer.flush()
        return 0
    tmp = engine.image_store.scratch_path("stdout.tar")
    with engine.image_store.busy():   # keeps prune off the scratch archive
        try:
            engine.save(args.images, tmp, args.format)
            with open(tmp, "rb") as f:
                import shutil
                sys.stdout.flush()
                shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
                sys.stdout.buffer.flush()
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return 0


def cmd_import(args) -> int:
    img = get_engine().import_image(args.file, args.ref, args.change, args.message)
    print(img.id)
    return 0
