# SPDX-License-Identifier: Apache-2.0
"""The bash completion of packaging/completion/pez.bash, driven as bash drives it (the function
`complete -p pez` names, with COMP_WORDS and COMP_CWORD set) against the pez of this build and a
real pezd: every command and option pez --help lists, and sequence names from pezd."""

import os
import re
import subprocess

import pytest

from harness import PEZ, ROOT

COMPLETION = os.path.join(ROOT, "packaging", "completion", "pez.bash")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

pytestmark = pytest.mark.skipif(not os.path.exists(BASH_COMPLETION),
                                reason="bash-completion is not installed (scripts/setup-deps installs it)")


def complete(*words, env=None):
    """What bash offers for the last word of `pez WORDS...`."""
    script = ('source "$1"; source "$2"; shift 2; '
              'fn=$(complete -p pez | sed -n "s/.*-F \\([^ ]*\\) pez$/\\1/p"); '
              '[[ -n $fn ]] || { echo "pez has no completion function" >&2; exit 1; }; '
              'COMP_WORDS=(pez "$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="pez $*"; '
              'COMP_POINT=${#COMP_LINE}; "$fn" pez "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    full = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    full["PATH"] = os.path.dirname(PEZ) + os.pathsep + full.get("PATH", "/usr/bin:/bin")
    full.update(env or {})
    r = subprocess.run(["bash", "-c", script, "bash", BASH_COMPLETION, COMPLETION, *words], capture_output=True,
                       text=True, env=full, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def pez_help(*command):
    r = subprocess.run([PEZ, *command, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout


def options_of(text):
    return set(re.findall(r"(?:^|,)\s*(--?[a-z][a-z-]*)", text.split("Subcommands:")[0], re.M))


def commands_of(text):
    part = text.split("Subcommands:", 1)
    return set(re.findall(r"^  ([a-z]+) ", part[1], re.M)) if len(part) == 2 else set()


GLOBAL = {"--socket", "--timeout"}


def every_command():
    top = pez_help()
    for command in sorted(commands_of(top)):
        yield (command,)
        for sub in sorted(commands_of(pez_help(command))):
            yield (command, sub)


def test_commands_are_those_of_pez_help():
    top = pez_help()
    assert complete("") == commands_of(top)
    assert complete("admin", "") == commands_of(pez_help("admin"))
    assert complete("help", "") == commands_of(top)
    assert complete("help", "admin", "") == commands_of(pez_help("admin"))


@pytest.mark.parametrize("command", list(every_command()), ids=" ".join)
def test_options_are_exactly_those_the_command_takes(command):
    # Offered and not taken would be refused; taken and not offered is a gap.
    offered = complete(*command, "--") | complete(*command, "-")
    takes = options_of(pez_help(*command))
    assert offered == takes | GLOBAL, (sorted(offered - takes - GLOBAL), sorted(takes - offered))


def test_top_level_options():
    assert complete("--") | complete("-") == options_of(pez_help())


def test_sequence_names_come_from_pezd_by_environment_or_flag(pezd):
    assert pezd.pez("admin", "create", "tickets").returncode == 0
    by_env = complete("next", "", env={"PEZ_SOCKET": pezd.socket})
    assert by_env == {"forward", "reverse", "tickets"}
    by_flag = complete("--socket", pezd.socket, "admin", "drop", "")
    assert by_flag == {"forward", "reverse", "tickets"}
    by_flag_after = complete("admin", "inspect", "--socket", pezd.socket, "t")
    assert by_flag_after == {"tickets"}
    # Without a pezd to ask, the two that always exist.
    assert complete("next", "", env={"PEZ_SOCKET": "/nonexistent/pezd.sock"}) == {"forward", "reverse"}
