"""Executing a parsed template on data: text/template's exec.go, on JSON-shaped Python values.

Three ways to see dicts (``mode``), because docker uses Go's templates on two kinds of data:

- ``map``: a Go map[string]interface{}, as Go's own tests and ``missingkey=default``: a missing
  key is no value, and a nil taken out of a map or slice is no value once it leaves a command.
- ``raw``: the same with ``missingkey=error``, as docker's inspect retries on the raw JSON.
- ``typed``: berth's dicts standing for docker's typed structs (what docker's inspect runs on
  first): a missing field is an error unless ``zero`` names its zero value; a dict whose values
  are all strings is a map[string]string (a missing key there is no value, and index gives "");
  a null stays a typed nil, with ``nil_slices``/``nil_maps`` naming fields that print [] or map[].
"""

from __future__ import annotations

from .funcs import GoError
from .gofmt import Printer, go_quote, sprint_value
from .nodes import (Action, Branch, Chain, Command, Field, Identifier, Keyword, ListNode,
                    Literal, Pipe, TemplateCall, Text, Variable)
from .values import MISSING, NIL_MAP, NIL_SLICE, NilSlice, NilMap, Struct, gotype, \
    is_string_map, truth

NOFINAL = object()   # no value piped in from a previous command (Go's missingVal)
MAX_DEPTH = 100000


class ExecError(Exception):
    """A template failed while running; the message is Go's."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class Policy:
    """How dicts are seen (see the module's docstring)."""

    __slots__ = ("mode", "zero", "nil_slices", "nil_maps")

    def __init__(self, mode: str = "map", zero=None, nil_slices=(), nil_maps=()):
        self.mode, self.zero = mode, zero or {}
        self.nil_slices, self.nil_maps = frozenset(nil_slices), frozenset(nil_maps)


MAP = Policy()

# whether a value can be passed for a parameter of that Go type
_TYPE_CHECKS = {
    "string": lambda v: type(v) is str,
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "[]string": lambda v: isinstance(v, NilSlice) or isinstance(v, (list, tuple))
    and all(type(x) is str for x in v),
}


class State:
    """One execution: the output, the variable stack, the node being run (for errors)."""

    def __init__(self, text: str, trees: dict, funcs: dict, policy: Policy, name: str = ""):
        self.text, self.trees, self.funcs, self.policy = text, trees, funcs, policy
        self.name, self.depth, self.node = name, 0, None
        self.vars: list[list] = []
        self.out: list[str] = []
        self.typed = policy.mode == "typed"

    # --- errors --------------------------------------------------------------------------------

    def error(self, message: str):
        if self.node is None:
            raise ExecError(f"template: {self.name}: {message}")
        pos = self.node.pos
        before = self.text[:pos]
        line = before.count("\n") + 1
        col = len(before[before.rfind("\n") + 1:].encode()) if "\n" in before \
            else len(before.encode())
        context = str(self.node)
        raise ExecError(f"template: :{line}:{col}: executing {go_quote(self.name)} at "
                        f"<{context}>: {message}")

    # --- variables -----------------------------------------------------------------------------

    def var(self, name: str):
        for v in reversed(self.vars):
            if v[0] == name:
                return v[1]
        self.error(f"undefined variable: {name}")

    def set_var(self, name: str, value) -> None:
        for v in reversed(self.vars):
            if v[0] == name:
                v[1] = value
                return
        self.error(f"undefined variable: {name}")

    # --- walking -------------------------------------------------------------------------------

    def run(self, data) -> str:
        self.vars = [["$", data]]
        try:
            self.walk(data, self.trees[self.name])
        except RecursionError:
            self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        return "".join(self.out)

    def walk(self, dot, node) -> None:
        t = type(node)
        if t is Text:
            self.out.append(node.text)
        elif t is Action:
            value = self.pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print(node, value)
        elif t is ListNode:
            for n in node.nodes:
                self.walk(dot, n)
        elif t is Branch:
            if node.kind == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_with(dot, node)
        elif t is TemplateCall:
            self.walk_template(dot, node)
        elif t is Keyword:
            raise _Break if node.word == "break" else _Continue

    def print(self, node, value) -> None:
        self.node = node
        if value is MISSING:
            self.out.append("<no value>")
        elif callable(value):
            self.error(f"can't print {node} of type func")
        else:
            self.out.append(Printer().value(value, "v", 0))

    def walk_if_with(self, dot, node: Branch) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if node.kind == "with" else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot, node: Branch) -> None:
        self.node = node
        mark = len(self.vars)
        decl, assign = node.pipe.decl, node.pipe.is_assign
        try:
            value = self.pipeline(dot, node.pipe)
            body = len(self.vars)

            def one(index, elem) -> None:
                if decl:
                    if assign:
                        self.set_var(decl[0], index if len(decl) > 1 else elem)
                        if len(decl) > 1:
                            self.set_var(decl[1], elem)
                    else:
                        self.vars[-1][1] = elem
                        if len(decl) > 1:
                            self.vars[-2][1] = index
                try:
                    self.walk(elem, node.list)
                except _Continue:
                    pass
                finally:
                    del self.vars[body:]

            if isinstance(value, (list, tuple)):
                items = list(enumerate(value))
            elif isinstance(value, dict):
                items = [(k, value[k]) for k in sorted(value)]
            elif isinstance(value, int) and not isinstance(value, bool):
                if len(decl) > 1:
                    self.error(f"can't use {value} to iterate over more than one variable")
                items = [(i, i) for i in range(value)]
            elif value is MISSING or value is None or isinstance(value, (NilSlice, NilMap)):
                items = []
            else:
                self.error(f"range can't iterate over {sprint_value(value)}")
            if items:
                try:
                    for index, elem in items:
                        one(index, elem)
                except _Break:
                    pass
                return
            if node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_template(self, dot, node: TemplateCall) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            self.error(f"template {go_quote(node.name)} not defined")
        if self.depth >= MAX_DEPTH:
            self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        dot = self.pipeline(dot, node.pipe)
        saved = self.name, self.vars, self.depth
        self.name, self.vars, self.depth = node.name, [["$", dot]], self.depth + 1
        try:
            self.walk(dot, tree)
        finally:
            self.name, self.vars, self.depth = saved

    # --- pipelines and commands ----------------------------------------------------------------

    def pipeline(self, dot, pipe: Pipe | None):
        if pipe is None:
            return MISSING
        self.node = pipe
        value = NOFINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
            if value is None and not self.typed:   # a nil interface{} is no value
                value = MISSING
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def not_a_function(self, args, final) -> None:
        if len(args) > 1 or final is not NOFINAL:
            self.error(f"can't give argument to non-function {args[0]}")

    def command(self, dot, cmd: Command, final):
        first = cmd.args[0]
        t = type(first)
        if t is Field:
            return self.field_node(dot, first, cmd.args, final)
        if t is Chain:
            return self.chain_node(dot, first, cmd.args, final)
        if t is Identifier:
            return self.function(dot, first, cmd, cmd.args, final)
        if t is Pipe:
            self.not_a_function(cmd.args, final)
            return self.pipeline(dot, first)
        if t is Variable:
            return self.variable_node(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if first.kind == "dot":
            return dot
        if first.kind == "nil":
            self.error("nil is not a command")
        return self.literal(first)

    def literal(self, n: Literal):
        if n.kind == "number" and isinstance(n.value, int) and not -(1 << 63) <= n.value < 1 << 63:
            self.node = n
            self.error(f"{n.text} overflows int")
        return n.value

    def field_node(self, dot, field: Field, args, final):
        self.node = field
        return self.field_chain(dot, dot, field, field.idents, args, final)

    def chain_node(self, dot, chain: Chain, args, final):
        if isinstance(chain.node, Literal) and chain.node.kind == "nil":
            self.error(f"indirection through explicit nil in {chain}")
        receiver = self.arg(dot, "any", chain.node)
        return self.field_chain(dot, receiver, chain, chain.fields, args, final, True)

    def variable_node(self, dot, var: Variable, args, final):
        self.node = var
        value = self.var(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.field_chain(dot, value, var, var.idents[1:], args, final)

    def field_chain(self, dot, receiver, node, idents, args, final, concrete=False):
        """Fields one after the other; ``concrete``: the receiver is a value of its own type
        (a literal's, a function's result), not an interface{} out of a map or slice."""
        for name in idents[:-1]:
            receiver = self.field(dot, name, node, None, NOFINAL, receiver, concrete)
            concrete = False
        return self.field(dot, idents[-1], node, args, final, receiver, concrete)

    def field(self, dot, name: str, node, args, final, receiver, concrete=False):
        n_args = (len(args) - 1 if args else 0) + (final is not NOFINAL)
        if receiver is MISSING:
            if self.policy.mode == "raw":
                self.error(f"nil data; no entry for key {go_quote(name)}")
            return MISSING
        if isinstance(receiver, Struct):
            value = receiver.fields.get(name, MISSING)
            if callable(value):
                return self.call(dot, value, False, node, name, args, final)
            if value is MISSING:
                if not receiver.is_map:
                    self.error(f"can't evaluate field {name} in type {receiver.type}")
                if n_args:
                    self.error(f"{name} is not a method but has arguments")
                return MISSING
            if n_args:
                if receiver.context:
                    self.error(f"wrong number of args for {name}: want 0 got {n_args}")
                self.error(f"{name} has arguments but cannot be invoked as function")
            return value
        if isinstance(receiver, (dict, NilMap)):
            if n_args:
                self.error(f"{name} is not a method but has arguments")
            return self.lookup(receiver, name)
        typ = gotype(receiver) if self.typed or concrete else "interface {}"
        if receiver is None:
            self.error(f"nil pointer evaluating {typ}.{name}")
        self.error(f"can't evaluate field {name} in type {typ}")

    def lookup(self, d, key: str):
        """A dict's entry as the policy sees dicts."""
        value = d.get(key, MISSING) if isinstance(d, dict) else MISSING
        p = self.policy
        if value is MISSING:
            if p.mode == "raw":
                self.error(f"map has no entry for key {go_quote(key)}")
            if p.mode == "typed":
                if key in p.zero:
                    return p.zero[key]
                if isinstance(d, dict) and not is_string_map(d):
                    self.error(f"map has no entry for key {go_quote(key)}")
            return MISSING
        if value is None and p.mode == "typed":
            if key in p.nil_slices:
                return NIL_SLICE
            if key in p.nil_maps:
                return NIL_MAP
        return value

    # --- functions -----------------------------------------------------------------------------

    def function(self, dot, node: Identifier, cmd, args, final):
        self.node = node
        spec = self.funcs.get(node.name)
        if spec is None:
            self.error(f"{go_quote(node.name)} is not a defined function")
        return self.call(dot, spec, True, cmd, node.name, args, final)

    def call(self, dot, spec, builtin: bool, node, name: str, args, final):
        args = args[1:] if args else []
        if builtin:
            fn, params, variadic = spec.fn, spec.params, spec.variadic
        else:   # a method of a Struct: string parameters, as docker's .Label
            fn = spec
            params, variadic = ("string",) * fn.__code__.co_argcount, False
        n_in = len(args) + (final is not NOFINAL)
        if variadic:
            fixed = len(params) - 1
            if n_in < fixed:
                self.error(f"wrong number of args for {name}: want at least {fixed} got {n_in}")
        elif n_in != len(params):
            self.error(f"wrong number of args for {name}: want {len(params)} got {n_in}")
        if builtin and name in ("and", "or"):
            value = MISSING
            for a in args:
                value = self.arg(dot, "value", a)
                if truth(value) == (name == "or"):
                    return value
            return final if final is not NOFINAL else value
        argv = [self.arg(dot, params[min(i, len(params) - 1)], a) for i, a in enumerate(args)]
        if final is not NOFINAL:
            argv.append(self.validate(final, params[min(n_in - 1, len(params) - 1)]))
        if builtin and name == "call":
            argv.insert(0, str(args[0]) if args else "")
        try:
            if builtin and spec.state:
                return fn(self, *argv)
            return fn(*argv)
        except GoError as e:
            self.node = node
            self.error(f"error calling {name}: {e}")

    def arg(self, dot, typ: str, n):
        """Go's evalArg: one argument, evaluated and checked against a parameter's type."""
        self.node = n
        t = type(n)
        if t is Field:
            return self.validate(self.field_node(dot, n, [n], NOFINAL), typ)
        if t is Variable:
            return self.validate(self.variable_node(dot, n, None, NOFINAL), typ)
        if t is Pipe:
            return self.validate(self.pipeline(dot, n), typ)
        if t is Identifier:
            return self.validate(self.function(dot, n, n, None, NOFINAL), typ)
        if t is Chain:
            return self.validate(self.chain_node(dot, n, None, NOFINAL), typ)
        kind = n.kind
        if kind == "dot":
            return self.validate(dot, typ)
        if kind == "nil":
            if typ in ("any", "value"):
                return None if typ == "any" else MISSING
            if typ == "[]string":
                return NIL_SLICE
            self.error(f"cannot assign nil to {typ}")
        if typ in ("any", "value"):
            return self.literal(n)
        if typ == "bool" and kind == "bool":
            return n.value
        if typ == "int" and kind == "number" and n.is_int:
            return n.int_value
        if typ == "string" and kind == "string":
            return n.value
        what = {"bool": "bool", "int": "integer", "string": "string"}.get(typ)
        if what:
            self.error(f"expected {what}; found {n}")
        self.error(f"can't handle {n} for arg of type {typ}")

    def validate(self, value, typ: str):
        if typ == "value":
            return value
        if value is MISSING:
            if typ == "any":
                return None
            if typ == "[]string":
                return NIL_SLICE
            self.error(f"invalid value; expected {typ}")
        if typ == "any":
            return value
        if not _TYPE_CHECKS[typ](value):
            got = "interface {}" if value is None else gotype(value)
            self.error(f"wrong type for value; expected {typ}; got {got}")
        return value
