"""STAND-IN: cobra/pflag-like command-line parsing for the kubeadm stand-in.

Supports ``--flag=value``, ``--flag value``, boolean flags (``--flag``, ``--flag=false``),
shorthands (``-f``, ``-o json``, ``-ojson``), string-slice flags (comma separated and repeatable)
and ``--`` to end flags.  Errors use pflag's wording (``unknown flag: --x``,
``flag needs an argument: --config``, ``unknown shorthand flag: 'z' in -z``).
"""

BOOL, STRING, LIST, INT = "bool", "string", "list", "int"
GLOBAL_FLAGS = {"v": INT, "help": BOOL}
GLOBAL_SHORT = {"v": "v", "h": "help"}


class FlagError(Exception):
    """A command-line error, printed as is (cobra style)."""


def _bool_value(name, text):
    lowered = text.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise FlagError(f'invalid argument "{text}" for "--{name}" flag: strconv.ParseBool: parsing "{text}": invalid syntax')


def _store(values, name, kind, text):
    if kind == BOOL:
        values[name] = _bool_value(name, text)
    elif kind == LIST:
        values.setdefault(name, [])
        values[name] += [part for part in text.split(",") if part != ""]
    elif kind == INT:
        try:
            values[name] = int(text)
        except ValueError as exc:
            raise FlagError(f'invalid argument "{text}" for "--{name}" flag: strconv.ParseInt: parsing "{text}": invalid syntax') from exc
    else:
        values[name] = text


def parse(argv, flags, short=None):
    """(positionals, values) of argv for a command taking ``flags`` (name -> kind)."""
    flags = dict(flags, **GLOBAL_FLAGS)
    short = dict(short or {}, **GLOBAL_SHORT)
    positionals, values = [], {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            positionals += argv[index:]
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, inline = arg[2:].partition("=")
            if name not in flags:
                raise FlagError(f"unknown flag: --{name}")
            kind = flags[name]
            if eq:
                _store(values, name, kind, inline)
            elif kind == BOOL:
                values[name] = True
            else:
                if index >= len(argv):
                    raise FlagError(f"flag needs an argument: --{name}")
                _store(values, name, kind, argv[index])
                index += 1
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            while letters:
                letter, letters = letters[0], letters[1:]
                if letter not in short:
                    raise FlagError(f"unknown shorthand flag: '{letter}' in -{arg[1:]}")
                name = short[letter]
                kind = flags[name]
                if letters.startswith("="):
                    _store(values, name, kind, letters[1:])
                    letters = ""
                elif kind == BOOL:
                    values[name] = True
                elif letters:
                    _store(values, name, kind, letters)
                    letters = ""
                else:
                    if index >= len(argv):
                        raise FlagError(f"flag needs an argument: '{letter}' in -{letter}")
                    _store(values, name, kind, argv[index])
                    index += 1
        else:
            positionals.append(arg)
    return positionals, values
