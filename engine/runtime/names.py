"""Container names as Docker makes them (``adjective_surname`` of a notable scientist or hacker, a
subset of moby's names-generator lists), and the checks on the names people give that end up in
containers' hosts, resolv.conf and hostname files."""

from __future__ import annotations

import os

LEFT = """admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold
boring brave busy charming clever compassionate competent condescending confident cool cranky
crazy dazzling determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic
exciting fervent festive flamboyant focused friendly frosty funny gallant gifted goofy gracious
great happy hardcore heuristic hopeful hungry infallible inspiring intelligent interesting jolly
jovial keen kind laughing loving lucid magical modest musing mystifying naughty nervous nice
nifty nostalgic objective optimistic peaceful pedantic pensive practical priceless quirky quizzical
recursing relaxed reverent romantic sad serene sharp silly sleepy stoic strange stupefied
suspicious sweet tender thirsty trusting unruffled upbeat vibrant vigilant vigorous wizardly
wonderful xenodochial youthful zealous zen""".split()

RIGHT = """agnesi albattani allen almeida antonelli archimedes ardinghelli aryabhata austin babbage
banach banzai bardeen bartik bassi beaver bell benz bhabha bhaskara black blackburn blackwell
bohr booth borg bose bouman boyd brahmagupta brattain brown buck burnell cannon carson cartwright
carver cerf chandrasekhar chaplygin chatelet chatterjee chaum chebyshev clarke cohen colden cori
cray curie darwin davinci dewdney dhawan diffie dijkstra dirac driscoll dubinsky easley edison
einstein elbakyan elgamal elion ellis engelbart euclid euler faraday feistel fermat fermi feynman
franklin gagarin galileo galois ganguly gates gauss germain goldberg goldstine goldwasser golick
goodall gould greider grothendieck haibt hamilton haslett hawking heisenberg hellman hermann
herschel hertz heyrovsky hodgkin hofstadter hoover hopper hugle hypatia ishizaka jackson jang
jemison jennings jepsen johnson joliot jones kalam kapitsa kare keldysh keller kepler khayyam
khorana kilby kirch knuth kowalevski lalande lamarr lamport leakey leavitt lederberg lehmann
lewin lichterman liskov lovelace lumiere mahavira margulis matsumoto maxwell mayer mccarthy
mcclintock mclaren mclean mcnulty meitner mendel mendeleev meninsky merkle mestorf mirzakhani
montalcini moore morse moser murdock napier nash neumann newton nightingale nobel noether
northcutt noyce panini pare pascal pasteur payne perlman pike poincare poitras proskuriakova
ptolemy raman ramanujan rhodes ride ritchie robinson roentgen rosalind rubin saha sammet sanderson
satoshi shamir shannon shaw shirley shockley shtern sinoussi snyder solomon spence stonebraker
sutherland swanson swartz swirles taussig tesla tharp thompson torvalds tu turing varahamihira
vaughan villani visvesvaraya volhard wescoff wilbur wiles williams williamson wilson wing wozniak
wright wu yalow yonath zhukovsky""".split()


def generate(retry: int = 0) -> str:
    """A random name; from the second try on a digit is appended, as Docker does."""
    a = LEFT[int.from_bytes(os.urandom(2), "big") % len(LEFT)]
    b = RIGHT[int.from_bytes(os.urandom(2), "big") % len(RIGHT)]
    if a == "boring" and b == "wozniak":  # Steve Wozniak is not boring (moby's rule)
        return generate(retry)
    return f"{a}_{b}{int.from_bytes(os.urandom(1), 'big') % 10 if retry else ''}"


# --- names people give: what may be written into a container's files -------------------------
# A container's name, aliases and hostname land in its neighbours' /etc/hosts, its --dns values
# in its resolv.conf: one space or line break there and a name becomes a line of its own choosing.

HOST_NAME_MAX = 64   # the kernel's sethostname() limit


def shown(value) -> str:
    """``value`` for an error message: control characters and line breaks escaped (as Go's %q
    does), so that the message stays one line and a terminal is never sent escape codes."""
    text = value if isinstance(value, str) else repr(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def unsafe(value) -> bool:
    """True when ``value`` is not a string, or holds whitespace, a control or format character
    or ``#``: anything that would split or end a line of hosts or resolv.conf."""
    if not isinstance(value, str):
        return True
    return not value.isprintable() or any(c.isspace() or c == "#" for c in value)


def _refuse(message: str):
    from ..errors import InvalidArgument
    return InvalidArgument(message)


def check_hostname(value: str, flag: str = "--hostname") -> None:
    """A hostname (or domain name) as the kernel and hosts files take it: at most 64 bytes,
    no whitespace or control characters."""
    limit = HOST_NAME_MAX if flag == "--hostname" else 255
    if unsafe(value) or len(value.encode()) > limit:
        raise _refuse(f"invalid hostname format for {flag}: {shown(value)}: give one name of at "
                      f"most {limit} bytes, without spaces, line breaks or control characters")


def check_alias(value: str) -> None:
    """A network alias (``--network-alias``, ``network connect --alias``, Aliases): a name
    other containers find in their hosts files, so one word."""
    if not value or unsafe(value) or len(value) > 255:
        raise _refuse(f"invalid network alias \"{shown(value)}\": give one name of at most 255 "
                      "characters, without spaces, line breaks or control characters")


def check_search_domain(value: str) -> None:
    """A --dns-search domain, by the docker CLI's ValidateDNSSearch ("." means none)."""
    import re
    if value == ".":
        return
    if (unsafe(value) or not re.search(r"[a-zA-Z]", value) or len(value) > 255
            or not re.fullmatch(r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
                                r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*\.?",
                                value)):
        raise _refuse(f"{shown(value)} is not a valid domain")
