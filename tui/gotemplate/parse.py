"""The parser of Go's text/template: items into a tree of nodes, with Go's parse errors.

Follows text/template/parse/parse.go and node.go: the node kinds, how they print (error messages
quote them), variable scoping checked at parse time, ``else if``/``else with`` chains, and
``define``/``block`` adding named trees beside the main one (named "" as docker names it).
"""

from __future__ import annotations

from .lex import Item, lex
from .nodes import (Action, Branch, Chain, Command, Field, Identifier, Keyword, ListNode,
                    Literal, Pipe, TemplateCall, Text, Variable, is_empty)


class ParseError(Exception):
    """A template that is not Go template syntax; the message is Go's."""


# --- the parser -------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str, items: list[Item], funcs, trees: dict, name: str):
        self.text, self.items, self.funcs, self.trees, self.name = text, items, funcs, trees, name
        self.i = 0
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.last = items[0]

    def error(self, message: str):
        raise ParseError(f"template: {self.name}:{self.last.line}: {message}")

    # tokens
    def next(self) -> Item:
        item = self.items[min(self.i, len(self.items) - 1)]
        self.i += 1
        self.last = item
        return item

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> Item:
        return self.items[min(self.i, len(self.items) - 1)]

    def next_non_space(self) -> Item:
        while True:
            item = self.next()
            if item.typ != "space":
                return item

    def peek_non_space(self) -> Item:
        item = self.next_non_space()
        self.backup()
        return item

    def expect(self, typ: str, context: str) -> Item:
        item = self.next_non_space()
        if item.typ != typ:
            self.unexpected(item, context)
        return item

    def unexpected(self, item: Item, context: str):
        if item.typ == "error":
            extra = ""
            if self.action_line and self.action_line != item.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if item.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            self.error(f"{item}{extra}")
        self.error(f"unexpected {item} in {context}")

    # structure
    def parse(self) -> ListNode:
        root = ListNode(self.peek().pos)
        while self.peek().typ != "eof":
            if self.peek().typ == "ldelim":
                at = self.i
                self.next()
                if self.next_non_space().typ == "define":
                    self.definition()
                    continue
                self.i = at
            n = self.text_or_action()
            if isinstance(n, Keyword) and n.word in ("end", "else"):
                self.error(f"unexpected {n}")
            root.nodes.append(n)
        return root

    def definition(self) -> None:
        context = "define clause"
        item = self.next_non_space()
        if item.typ not in ("string", "rawstring"):
            self.unexpected(item, context)
        name = self.unquote(item.val)
        self.expect("rdelim", context)
        outer_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = outer_vars
        if end.word != "end":
            self.error(f"unexpected {end} in {context}")
        self.add(name, body)

    def add(self, name: str, body: ListNode) -> None:
        old = self.trees.get(name)
        if old is None or is_empty(old):
            self.trees[name] = body
        elif not is_empty(body):
            self.error(f"template: multiple definition of template {_quote(name)}")

    def item_list(self):
        lst = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != "eof":
            n = self.text_or_action()
            if isinstance(n, Keyword) and n.word in ("end", "else"):
                return lst, n
            lst.nodes.append(n)
        self.error("unexpected EOF")

    def text_or_action(self):
        item = self.next_non_space()
        if item.typ == "text":
            return Text(item.pos, item.val)
        if item.typ == "ldelim":
            self.action_line = item.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        self.unexpected(item, "input")

    def action(self):
        item = self.next_non_space()
        typ = item.typ
        if typ == "block":
            return self.block()
        if typ in ("break", "continue"):
            nxt = self.next_non_space()
            if nxt.typ != "rdelim":
                self.unexpected(nxt, "{{" + typ + "}}")
            if not self.range_depth:
                self.error("{{" + typ + "}} outside {{range}}")
            return Keyword(item.pos, typ)
        if typ == "else":
            peek = self.peek_non_space()
            if peek.typ in ("if", "with"):
                return Keyword(peek.pos, "else")
            return Keyword(self.expect("rdelim", "else").pos, "else")
        if typ == "end":
            return Keyword(self.expect("rdelim", "end").pos, "end")
        if typ in ("if", "range", "with"):
            return self.control(typ)
        if typ == "template":
            return self.template()
        self.backup()
        item = self.peek()
        return Action(item.pos, item.line, self.pipeline("command", "rdelim"))

    def control(self, kind: str) -> Branch:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(kind, "rdelim")
            if kind == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if kind == "range":
                self.range_depth -= 1
            else_list = None
            if nxt.word == "else":
                # {{else if}} and {{else with}} are {{else}}{{if}}…{{end}}{{end}}
                if kind in ("if", "with") and self.peek().typ == kind:
                    self.next()
                    else_list = ListNode(nxt.pos)
                    else_list.nodes.append(self.control(kind))
                else:
                    else_list, nxt = self.item_list()
                    if nxt.word != "end":
                        self.error(f"expected end; found {nxt}")
            return Branch(kind, pipe.pos, pipe.line, pipe, lst, else_list)
        finally:
            del self.vars[mark:]

    def template_name(self, item: Item, context: str) -> str:
        if item.typ not in ("string", "rawstring"):
            self.unexpected(item, context)
        return self.unquote(item.val)

    def template(self) -> TemplateCall:
        context = "template clause"
        item = self.next_non_space()
        name = self.template_name(item, context)
        pipe = None
        if self.next_non_space().typ != "rdelim":
            self.backup()
            pipe = self.pipeline(context, "rdelim")
        return TemplateCall(item.pos, item.line, name, pipe)

    def block(self) -> TemplateCall:
        context = "block clause"
        item = self.next_non_space()
        name = self.template_name(item, context)
        pipe = self.pipeline(context, "rdelim")
        outer_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = outer_vars
        if end.word != "end":
            self.error(f"unexpected {end} in {context}")
        self.add(name, body)
        return TemplateCall(item.pos, item.line, name, pipe)

    # pipelines
    def pipeline(self, context: str, end: str) -> Pipe:
        item = self.peek_non_space()
        pipe = Pipe(item.pos, item.line)
        self.declarations(pipe, context)
        while True:
            item = self.next_non_space()
            if item.typ == end:
                if not pipe.cmds:
                    self.error(f"missing value for {context}")
                for i, c in enumerate(pipe.cmds[1:]):
                    a = c.args[0]
                    if isinstance(a, Literal):
                        self.error(f"non executable command in pipeline stage {i + 2}")
                return pipe
            if item.typ in ("bool", "charconst", "complex", "dot", "field", "ident", "number",
                            "nil", "rawstring", "string", "var", "lparen"):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(item, context)

    def declarations(self, pipe: Pipe, context: str) -> None:
        while True:
            v = self.peek_non_space()
            if v.typ != "var":
                return
            at = self.i
            self.next_non_space()
            nxt = self.peek_non_space()
            if nxt.typ in ("assign", "declare"):
                pipe.is_assign = nxt.typ == "assign"
                self.next_non_space()
                pipe.decl.append(v.val)
                self.vars.append(v.val)
                return
            if nxt.typ == "char" and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(v.val)
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in ("var", "rdelim", "rparen"):
                        continue
                    self.error("range can only initialize variables")
                self.error(f"too many declarations in {context}")
            self.i = at   # not a declaration: the variable is an operand
            return

    def command(self) -> Command:
        cmd = Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            item = self.next()
            if item.typ == "space":
                continue
            if item.typ in ("rdelim", "rparen"):
                self.backup()
            elif item.typ != "pipe":
                self.unexpected(item, "operand")
            break
        if not cmd.args:
            self.error("empty command")
        return cmd

    def operand(self):
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == "field":
            chain = Chain(self.peek().pos, node)
            while self.peek().typ == "field":
                chain.fields.append(self.next().val[1:])
            if isinstance(node, Field):
                return Field(chain.pos, str(chain))
            if isinstance(node, Variable):
                return Variable(chain.pos, str(chain))
            if isinstance(node, Literal):
                self.error(f"unexpected . after term {_quote(str(node))}")
            return chain
        return node

    def term(self):
        item = self.next_non_space()
        typ, pos = item.typ, item.pos
        if typ == "ident":
            if item.val not in self.funcs:
                self.error(f"function {_quote(item.val)} not defined")
            return Identifier(pos, item.val)
        if typ == "dot":
            return Literal(pos, "dot", ".")
        if typ == "nil":
            return Literal(pos, "nil", "nil")
        if typ == "var":
            name = item.val.split(".")[0]
            if name not in self.vars:
                self.error(f"undefined variable {_quote(name)}")
            return Variable(pos, item.val)
        if typ == "field":
            return Field(pos, item.val)
        if typ == "bool":
            return Literal(pos, "bool", item.val, item.val == "true")
        if typ in ("charconst", "number", "complex"):
            return self.number(item)
        if typ == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        if typ in ("string", "rawstring"):
            return Literal(pos, "string", item.val, self.unquote(item.val))
        self.backup()
        return None

    def number(self, item: Item) -> Literal:
        from .gofmt import parse_number, unquote_char
        text = item.val
        n = Literal(item.pos, "number", text)
        if item.typ == "charconst":
            n.value = n.int_value = unquote_char(text)
            if n.value is None:
                self.error(f"malformed character constant: {text}")
            n.is_int = True
            return n
        if item.typ == "complex":
            self.error(f"illegal number syntax: {_quote(text)}")
        parsed = parse_number(text)
        if parsed is None:
            self.error(f"illegal number syntax: {_quote(text)}")
        n.value, n.is_int, n.int_value = parsed
        return n

    def unquote(self, quoted: str) -> str:
        from .gofmt import unquote
        s = unquote(quoted)
        if s is None:
            self.error("invalid syntax")
        return s


def _quote(s: str) -> str:
    from .gofmt import go_quote
    return go_quote(s)


def parse(text: str, funcs) -> dict:
    """The trees of ``text``: "" for the template itself, and one per define or block."""
    trees: dict = {}
    p = _Parser(text, lex(text), funcs, trees, "")
    root = p.parse()
    p.add("", root)
    return trees
