# SPDX-License-Identifier: Apache-2.0
"""The man pages as a reader meets them: rendered by mandoc, their quotes balanced, their files
and sections there, and their examples run as written against pez, pezd and a real database."""

import os
import re
import shutil
import subprocess

import pytest

from harness import PEZ, PEZD, ROOT, LineClient

MAN = os.path.join(ROOT, "man")
PAGES = ["pez.1", "pezd.8", "pezd.conf.5"]

pytestmark = pytest.mark.skipif(shutil.which("mandoc") is None,
                                reason="mandoc is not installed (scripts/setup-deps installs it)")


def render(source):
    """mdoc source as a terminal shows it, without overstrike."""
    r = subprocess.run(["mandoc", "-T", "utf8"], input=source, capture_output=True, text=True, check=True)
    return re.sub(".\b", "", r.stdout)


def page(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read()


def rendered(name):
    return render(page(name))


def literal_blocks(name):
    """Each .Bd -literal block of a page as rendered: the lines a reader would paste."""
    out = []
    for block in re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", page(name), re.M | re.S):
        text = render(".Dd January 1, 2026\n.Dt X 1\n.Os\n.Sh NAME\n.Nm x\n.Nd x\n.Sh DESCRIPTION\n"
                      ".Bd -literal\n" + block + ".Ed\n")
        body = text.split("DESCRIPTION\n", 1)[1].rsplit("\n\n", 1)[0]
        lines = [line for line in body.splitlines()]
        while lines and not lines[-1].strip():
            lines.pop()
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        out.append([line[indent:] for line in lines])
    return out


def section(name, title):
    text = rendered(name)
    match = re.search(rf"^{re.escape(title)}\n(.*?)(?=^[A-Z][A-Z ]+\n)", text, re.M | re.S)
    assert match, f"{name} has no section {title}"
    return match.group(1)


@pytest.mark.parametrize("name", PAGES)
def test_quotes_are_balanced_and_never_nested(name):
    # mdoc drops double quotes and nests single ones where its quoting rules are not followed:
    # {"name": tickets} and (‘strict or ‘block’’).
    for paragraph in re.split(r"\n\s*\n", rendered(name)):
        depth = 0
        for ch in paragraph:
            depth += {"‘": 1, "’": -1}.get(ch, 0)
            assert 0 <= depth <= 1, " ".join(paragraph.split())
        assert depth == 0, " ".join(paragraph.split())


def test_every_json_example_is_json():
    import json
    text = " ".join(rendered("pezd.8").split())
    examples = re.findall(r"‘(?:CREATE |OK )?(\{[^’]*\})’", text)
    assert examples
    for example in examples:
        if "..." in example or re.search(r'": [a-z]+[,}]', example.replace('": true', "").replace('": false', "")):
            continue  # a template: {"to": value}
        json.loads(example)


def test_files_names_every_sql_file():
    files = section("pezd.8", "FILES")
    for name in sorted(os.listdir(os.path.join(ROOT, "sql"))):
        if name.endswith(".sql"):
            assert name in files, name


def test_sections_named_elsewhere_exist():
    # "See pezd(8), section X": X is a section (.Sh) or subsection (.Ss) of that page.
    titles = {}
    for name in PAGES:
        titles[name] = {t.strip().strip('"').lower() for t in re.findall(r"^\.S[hs] (.+)$", page(name), re.M)}
    found = 0
    for folder in ("packaging", "scripts", "man"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for file in files:
                with open(os.path.join(dirpath, file), errors="replace") as f:
                    text = f.read()
                for ref, title in re.findall(r"\b(pez\.1|pezd\.8|pezd\.conf\.5|pez\(1\)|pezd\(8\)|pezd\.conf\(5\)),? "
                                             r"section \"?([A-Za-z][A-Za-z ]+)", text):
                    key = {"pez(1)": "pez.1", "pezd(8)": "pezd.8", "pezd.conf(5)": "pezd.conf.5"}.get(ref, ref)
                    found += 1
                    assert title.strip().lower() in titles[key], (file, ref, title)
    assert found > 0


def pez_env(pezd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    env["PATH"] = os.path.dirname(PEZ) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["PEZ_SOCKET"] = pezd.socket
    return env


def shape(line):
    """A line of example output as a pattern: any number may stand for another."""
    return re.sub(r"\\d\+(?:\\\.\\d\+)*", r"\\d+(?:\\.\\d+)*", re.sub(r"\d+", r"\\d+", re.escape(line)))


def test_pez_examples_run_as_written(pezd):
    block = literal_blocks("pez.1")[-1]  # EXAMPLES
    assert block[0].startswith("$ pez ")
    # Each "$ command" and the lines it printed (standard output and error, as a terminal shows).
    steps = []
    for line in block:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    script = "".join(f"{command} 2>&1\necho '@@@'\n" for command, _ in steps)
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=pez_env(pezd), timeout=60)
    outputs = r.stdout.split("@@@\n")[:-1]
    assert len(outputs) == len(steps), r
    for (command, expected), output in zip(steps, outputs):
        got = output.splitlines()
        if command == "pez status":
            # Paths, ids and counts differ; the lines and their order do not.
            assert re.fullmatch(shape(expected[0]), got[0]), (command, got)
            assert [line.split(":")[0] for line in got[1:]] == [line.split(":")[0] for line in expected[1:]], \
                (command, got)
            continue
        assert len(got) == len(expected), (command, expected, got)
        for want, line in zip(expected, got):
            assert re.fullmatch(shape(want), line), (command, want, line)


def test_pezd_socket_examples_run_as_written(pezd):
    text = " ".join(rendered("pezd.8").split())
    requests = [q for q in re.findall(r"‘((?:HELLO|NEXT|STATUS|PING|LIST|INSPECT|CREATE|RESET|DROP) [^’]+)’", text)
                if not q.startswith("CREATE SEQUENCE")]
    socat = next(block for block in literal_blocks("pezd.8") if block[0].startswith("$ socat"))
    requests += [line for line in socat[1:] if not line.startswith("OK")]
    assert any(r.startswith("CREATE {") for r in requests), requests
    order = {"CREATE": 0, "DROP": 2}
    c = LineClient(pezd.socket)
    try:
        for request in sorted(requests, key=lambda q: order.get(q.split()[0], 1)):
            answer = c.ask(request)
            assert answer.startswith("OK"), (request, answer)
    finally:
        c.close()


def test_pezd_http_examples_run_as_written(pezd):
    block = next(b for b in literal_blocks("pezd.8") if any("curl" in line for line in b))
    for line in block:
        if not line.startswith("curl "):
            continue
        command = line.replace("localhost:8000", pezd.address)
        r = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        number = r'"\d+"' if "as=string" in line else r"\d+"
        assert r.returncode == 0 and re.fullmatch(rf"\[?{number}(, {number})*\]?\n", r.stdout), (line, r)


def config_blocks():
    for name in ("pezd.conf.5", "pezd.8"):
        for block in literal_blocks(name):
            settings = [line for line in block if re.match(r"[a-z_]+ = ", line)]
            if settings:
                yield name, block


@pytest.mark.parametrize("name,block", list(config_blocks()), ids=lambda v: v if isinstance(v, str) else "")
def test_config_examples_are_read_as_they_say(name, block, workdir):
    conf = os.path.join(workdir, "example.conf")
    with open(conf, "w") as f:
        f.write("\n".join(block) + "\n")
    # A file the example names need not exist here: the environment, which beats the file, stands in.
    password = os.path.join(workdir, "password")
    with open(password, "w") as f:
        f.write("secret\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    env["PEZ_DB_PASSWORD_FILE"] = password
    r = subprocess.run([PEZD, "--config", conf, "--print-config"], capture_output=True, text=True, env=env,
                       timeout=10)
    assert r.returncode == 0, (block, r.stderr)
    printed = {}
    for line in r.stdout.splitlines():
        if line and not line.startswith("#"):
            key, value = line.split(" = ", 1)
            printed[key] = value.rsplit("  # ", 1)[0].strip()
    for line in block:
        match = re.match(r"([a-z_]+) = (.*)", line)
        if not match or match.group(1) == "db_password_file":
            continue
        key, value = match.groups()
        # The example's own words say what the value is: quotes and a comment are not part of it.
        value = re.sub(r"\s+#.*$", "", value) if not value.startswith('"') else value[1:value.index('"', 1)]
        shown = printed[key]
        shown = shown[1:-1] if shown.startswith('"') else shown
        assert shown == value, (line, printed[key])
