"""The nodes of a parsed Go template (text/template/parse/node.go): what each holds and how it
prints, as Go's error messages quote them."""

from __future__ import annotations


class Node:
    __slots__ = ("pos",)


class Text(Node):
    __slots__ = ("text",)

    def __init__(self, pos, text):
        self.pos, self.text = pos, text

    def __str__(self):
        return self.text


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos):
        self.pos, self.nodes = pos, []

    def __str__(self):
        return "".join(str(n) for n in self.nodes)


class Pipe(Node):
    __slots__ = ("line", "decl", "is_assign", "cmds")

    def __init__(self, pos, line):
        self.pos, self.line, self.decl, self.is_assign, self.cmds = pos, line, [], False, []

    def __str__(self):
        s = ""
        if self.decl:
            s = ", ".join(self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


class Command(Node):
    __slots__ = ("args",)

    def __init__(self, pos):
        self.pos, self.args = pos, []

    def __str__(self):
        return " ".join(f"({a})" if isinstance(a, Pipe) else str(a) for a in self.args)


class Action(Node):
    __slots__ = ("line", "pipe")

    def __init__(self, pos, line, pipe):
        self.pos, self.line, self.pipe = pos, line, pipe

    def __str__(self):
        return "{{" + str(self.pipe) + "}}"


class Field(Node):
    __slots__ = ("idents",)

    def __init__(self, pos, ident: str):
        self.pos, self.idents = pos, tuple(ident[1:].split("."))

    def __str__(self):
        return "".join("." + i for i in self.idents)


class Variable(Node):
    __slots__ = ("idents",)

    def __init__(self, pos, ident: str):
        self.pos, self.idents = pos, tuple(ident.split("."))

    def __str__(self):
        return ".".join(self.idents)


class Chain(Node):
    __slots__ = ("node", "fields")

    def __init__(self, pos, node):
        self.pos, self.node, self.fields = pos, node, []

    def __str__(self):
        s = f"({self.node})" if isinstance(self.node, Pipe) else str(self.node)
        return s + "".join("." + f for f in self.fields)


class Identifier(Node):
    __slots__ = ("name",)

    def __init__(self, pos, name):
        self.pos, self.name = pos, name

    def __str__(self):
        return self.name


class Literal(Node):
    """dot, nil, a bool, a number or a string: ``value`` is what it evaluates to."""

    __slots__ = ("kind", "text", "value", "is_int", "int_value")

    def __init__(self, pos, kind, text, value=None):
        self.pos, self.kind, self.text, self.value = pos, kind, text, value
        self.is_int, self.int_value = False, 0

    def __str__(self):
        return self.text


class Branch(Node):
    """if, range and with: a pipeline, a list and an optional else list."""

    __slots__ = ("kind", "line", "pipe", "list", "else_list")

    def __init__(self, kind, pos, line, pipe, lst, else_list):
        self.kind, self.pos, self.line = kind, pos, line
        self.pipe, self.list, self.else_list = pipe, lst, else_list

    def __str__(self):
        s = "{{" + self.kind + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


class TemplateCall(Node):
    __slots__ = ("line", "name", "pipe")

    def __init__(self, pos, line, name, pipe):
        self.pos, self.line, self.name, self.pipe = pos, line, name, pipe

    def __str__(self):
        from .gofmt import go_quote
        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


class Keyword(Node):
    """break, continue, and the else and end that close a list while parsing."""

    __slots__ = ("word",)

    def __init__(self, pos, word):
        self.pos, self.word = pos, word

    def __str__(self):
        return "{{" + self.word + "}}"


def is_empty(node) -> bool:
    """Go's IsEmptyTree: only space and comments, so that a definition may replace it."""
    if node is None:
        return True
    if isinstance(node, ListNode):
        return all(is_empty(n) for n in node.nodes)
    if isinstance(node, Text):
        return not node.text.strip()
    return False
