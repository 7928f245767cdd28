"""What a build tells its caller as it goes, and the docker CLI's text for each of it."""

from __future__ import annotations

from ..models import Model, dataclass

# kinds: "step" (``Step 3/9 : RUN …``), "info" (`` ---> Running in …``, ``Removing intermediate
# container``), "output" (a RUN's output as it comes), "cache" (`` ---> Using cache``), "layer"
# (`` ---> 1a2b3c4d5e6f``, image_id set), "warning", "done" (image_id set; text: the tags
# that were given, one per line), "error" (text: the one-line message)


@dataclass
class BuildEvent(Model):
    """One thing a build reports (see the kinds above)."""

    kind: str
    text: str = ""
    step: int = 0
    steps: int = 0
    image_id: str = ""


def render(event: BuildEvent) -> str:
    """The docker CLI's text for ``event`` (classic builder), newline included where docker
    prints one; output is passed through as it came."""
    k = event.kind
    if k == "step":
        return event.text + "\n"
    if k == "output":
        return event.text
    if k == "cache":
        return " ---> Using cache\n"
    if k == "layer":
        return f" ---> {event.image_id.partition(':')[2][:12] or event.image_id[:12]}\n"
    if k == "info":   # moby: " ---> Running in …", then "Removing intermediate container …"
        if event.text.startswith("Removing "):
            return event.text + "\n"
        return f" ---> {event.text}\n"
    if k == "warning":
        return f"[Warning] {event.text}\n"
    if k == "done":
        short = event.image_id.partition(":")[2][:12]
        lines = [f"Successfully built {short}"]
        lines += [f"Successfully tagged {t}" for t in event.text.splitlines() if t]
        return "\n".join(lines) + "\n"
    if k == "error":
        return event.text + "\n"
    return event.text
