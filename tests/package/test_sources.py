# SPDX-License-Identifier: Apache-2.0
"""Checks of the packaging sources that need no installation: the man pages are mandoc-lint
clean, the RPM spec builds with rpmbuild, and the bash completion offers what pez --help does."""

import glob
import os
import re
import shutil

from conftest import BUILD, ROOT, run


def test_man_pages_are_mandoc_lint_clean():
    pages = sorted(glob.glob(os.path.join(ROOT, "man", "*.[0-9]")))
    assert len(pages) == 3, pages
    r = run(["mandoc", "-T", "lint", "-W", "warning"] + pages, check=False)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr


def test_the_rpm_spec_builds():
    version = re.search(r"project\(pez VERSION (\S+)", open(os.path.join(ROOT, "CMakeLists.txt")).read()).group(1)
    top = os.path.join(BUILD, "rpm")
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(os.path.join(top, "SOURCES"))
    # The tree as it is, without builds and version control, as the spec's Source0.
    run(["tar", "-czf", os.path.join(top, "SOURCES", f"pez-{version}.tar.gz"), "--exclude-vcs",
         "--exclude=./build*", "--exclude=./.pez-local", "--exclude=__pycache__",
         f"--transform=s,^\\.,pez-{version},", "."], cwd=ROOT)
    # --nodeps: the BuildRequires name Fedora's packages, which Debian's rpm database does not hold.
    # Warnings are errors, as in the project's other builds; built so, and with ccache keyed as
    # scripts/build keys it, the files compile as in the plain build, whose objects ccache gives.
    # ccache keys by the locale as well: rpmbuild compiles under LANG=C, as scripts/build does.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    env.update(CCACHE_BASEDIR=os.environ.get("CCACHE_BASEDIR", ROOT),
               CCACHE_NOHASHDIR=os.environ.get("CCACHE_NOHASHDIR", "true"), LANG="C")
    r = run(["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {top}", "--define", "debug_package %{nil}",
             "--define", "pez_cmake_args -DPEZ_WERROR=ON", os.path.join(ROOT, "packaging", "rpm", "pez.spec")],
            check=False, env=env)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert re.search(r"test cases: +\d+ \| +\d+ passed \| 0 failed", r.stdout + r.stderr), "no unit tests in %check"
    rpms = glob.glob(os.path.join(top, "RPMS", "*", f"pez-{version}-*.rpm"))
    assert len(rpms) == 1, rpms
    files = run(["rpm", "-qlp", rpms[0]]).stdout.split()
    # Released under the Apache License 2.0, as debian/copyright and LICENSE say.
    assert run(["rpm", "-qp", "--queryformat", "%{LICENSE}", rpms[0]]).stdout == "Apache-2.0"
    assert any(path.endswith("/LICENSE") for path in files), files
    for path in ("/usr/sbin/pezd", "/usr/bin/pez", "/usr/libexec/pez/pez-cli", "/usr/lib/systemd/system/pezd.service",
                 "/usr/lib/sysusers.d/pez.conf", "/etc/pez/pezd.conf", "/etc/sysconfig/pezd",
                 "/usr/share/man/man8/pezd.8.gz", "/usr/share/pez/sql/001_init.sql",
                 "/usr/share/pez/prometheus/pez-alerts.yml", "/usr/share/pez/grafana/pez-dashboard.json",
                 "/usr/share/bash-completion/completions/pez"):
        assert path in files, (path, files)
    config = run(["rpm", "-qcp", rpms[0]]).stdout.split()
    assert sorted(config) == ["/etc/pez/db-password", "/etc/pez/pezd.conf", "/etc/sysconfig/pezd"], config
    # The password file is root's alone: systemd reads it for the unit's LoadCredential=.
    modes = dict(reversed(line.split(None, 8)[::8]) for line in run(["rpm", "-qlvp", rpms[0]]).stdout.splitlines())
    assert modes["/etc/pez/db-password"].startswith("-rw-------"), modes["/etc/pez/db-password"]


def pez_help(*command):
    return run([os.path.join(BUILD, "cli", "pez"), *command, "--help"]).stdout


def options_of(text):
    return set(re.findall(r"(?:^|,)\s*(--[a-z][a-z-]*)", text, re.M))


def subcommands_of(text):
    part = text.split("Subcommands:", 1)
    return set(re.findall(r"^  ([a-z]+) ", part[1], re.M)) if len(part) == 2 else set()


def complete(*words):
    script = ("source /usr/share/bash-completion/bash_completion; source \"$1\"; shift; "
              "COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=\"$*\"; "
              "COMP_POINT=${#COMP_LINE}; _pez; printf '%s\\n' \"${COMPREPLY[@]}\"")
    completion = os.path.join(ROOT, "packaging", "completion", "pez.bash")
    return set(run(["bash", "-c", script, "bash", completion, "pez", *words]).stdout.split())


def test_bash_completion_offers_every_command_and_option_of_pez():
    top = pez_help()
    commands = subcommands_of(top)
    assert {"forward", "reverse", "next", "admin", "status"} <= commands
    assert complete("") == commands
    assert complete("--") == options_of(top)
    admin_commands = subcommands_of(pez_help("admin"))
    assert complete("admin", "") == admin_commands
    for command in commands - {"admin"}:
        assert options_of(pez_help(command)) <= complete(command, "--"), command
    for command in admin_commands:
        assert options_of(pez_help("admin", command)) <= complete("admin", command, "--"), command


def test_zsh_completion_parses():
    r = run(["zsh", "-n", os.path.join(ROOT, "packaging", "completion", "_pez")], check=False)
    assert r.returncode == 0, r.stderr
