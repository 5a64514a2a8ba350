"""Hostile folder stores (issue 11): FIFOs, devices, huge sparse files, symbolic links
and odd names are refused with a message naming them, never hang, never read unbounded,
never followed out of the store, never skipped silently. Real FIFOs, devices, sparse
files and links; every test is bounded by a time-out (a hang is a failure)."""

import os
import shutil

import pytest
from bounded import bounded

from jacs_desktop.jobs.verify_all import verify_store
from jacs_desktop.storage.base import Refused, StorageError
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.layout import find_configs
from jacs_desktop.storage.store import Store, public_key_files

pytestmark = pytest.mark.timeout(20)

KEY_HASH = "177c12cb1fc8e19eee6031de30868ded3552a4a0a1b671af75e39711ed6dced8"
DOC = "documents/52e07b44-6d02-4085-8401-6c5efce90602:15bf7646-e871-403b-b734-6481368462e5.json"
AGENT_DIR = "jacs_data/agent"
ATTACHED = "documents/651a863f-8d67-4a94-a225-dbbc2b1feffa:dfd3d34a-b0ed-4f56-a18b-f8f68255558f.json"


def _bounded(fn, seconds=10):
    """Run *fn* on a thread; a hang fails the test in *seconds* (instead of hanging it)."""
    return bounded(fn, seconds)


def _fifo(path):
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def _sparse(path, size=6 << 30):
    path.unlink(missing_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)  # no disk used


def _char_device(path):
    """A real character device inside the store (/dev/zero's numbers; a link where mknod is not allowed)."""
    path.unlink(missing_ok=True)
    try:
        st = os.stat("/dev/zero")
        os.mknod(path, 0o600 | 0o020000, st.st_rdev)
        return True
    except (PermissionError, AttributeError):
        return False


def _verdicts(root):
    report = _bounded(lambda: verify_store(Store(FsStore(root))))
    return report, {r.path: r for r in report.results}


# -- FIFOs: opened without blocking, refused by what fstat says -----------------------------------

@pytest.mark.parametrize("suffix", [".enc_type", ".pem"])
def test_fifo_as_a_public_key_file_does_not_hang_verify(fixture_copy, suffix):
    _fifo(fixture_copy / "jacs_data" / "public_keys" / f"{KEY_HASH}{suffix}")
    report, _by_path = _verdicts(fixture_copy)
    hit = [r for r in report.results if "is a FIFO, not a regular file" in " ".join(c.reason for c in r.checks)]
    assert hit, [r.reason for r in report.results]
    assert all(r.status == "error" for r in hit)
    assert f"{KEY_HASH}{suffix} is a FIFO" in hit[0].reason or any(
        f"{KEY_HASH}{suffix} is a FIFO" in c.reason for c in hit[0].checks)
    assert report.exit_code == 1


def test_fifo_as_document_agent_and_config(fixture_copy):
    _fifo(fixture_copy / DOC)
    agent = sorted((fixture_copy / AGENT_DIR).iterdir())[0]
    _fifo(agent)
    _fifo(fixture_copy / "ed25519.config.json")
    report, by_path = _verdicts(fixture_copy)
    for key in (DOC, f"{AGENT_DIR}/{agent.name}", "ed25519.config.json"):
        v = by_path[key]
        assert v.status == "error" and f"{key} is a FIFO, not a regular file" in v.checks[0].reason, key
    assert any("ed25519.config.json is a FIFO" in e for e in report.errors)


def test_fifo_config_is_kept_with_its_reason(fixture_copy):
    _fifo(fixture_copy / "ed25519.config.json")
    configs = _bounded(lambda: find_configs(FsStore(fixture_copy)))
    c = {c.key: c for c in configs}["ed25519.config.json"]
    assert c.doc is None and "is a FIFO, not a regular file" in c.problem


def test_fifo_attachment(fixture_copy):
    _fifo(fixture_copy / "jacs_data" / "files" / "data.csv")
    store = Store(FsStore(fixture_copy))
    with pytest.raises(Refused, match=r"jacs_data/files/data.csv is a FIFO, not a regular file"):
        _bounded(lambda: store.read_attachment("files/data.csv"))
    v = _bounded(lambda: store.verify(next(r for r in store.refs() if r.key == ATTACHED)))
    assert v.status == "error" and "data.csv is a FIFO" in v.reason + " ".join(c.reason for c in v.checks)


def test_listing_reports_non_regular_entries_and_never_opens_them(fixture_copy):
    _fifo(fixture_copy / "documents" / "a:b.json")
    objects = FsStore(fixture_copy)
    infos = {i.key: i for i in _bounded(lambda: list(objects.list("documents/")))}
    fifo = infos["documents/a:b.json"]
    assert fifo.problem == "documents/a:b.json is a FIFO, not a regular file" and fifo.no_content
    assert sum(i.problem is None for i in infos.values()) == 13
    with pytest.raises(Refused, match="is a FIFO"):
        _bounded(lambda: objects.get("documents/a:b.json"))
    children = {i.key: i for i in objects.list_children("documents/")}
    assert children["documents/a:b.json"].problem


# -- devices and huge files: refused by size or kind before reading ------------------------------

def test_character_device_document_is_refused(fixture_copy):
    if not _char_device(fixture_copy / DOC):
        pytest.skip("creating a device node needs root")
    _report, by_path = _verdicts(fixture_copy)
    assert by_path[DOC].status == "error"
    assert f"{DOC} is a character device, not a regular file" in by_path[DOC].checks[0].reason


def test_link_to_dev_zero_and_urandom_is_refused(fixture_copy):
    for dev, name in (("/dev/zero", "z:1.json"), ("/dev/urandom", "u:1.json")):
        (fixture_copy / "documents" / name).symlink_to(dev)
    objects = FsStore(fixture_copy)
    for name, dev in (("z:1.json", "/dev/zero"), ("u:1.json", "/dev/urandom")):
        with pytest.raises(Refused, match=f"is a symbolic link to {dev}, outside the store"):
            _bounded(lambda name=name: objects.get(f"documents/{name}"))


def test_six_gib_sparse_document_is_refused_not_read(fixture_copy):
    _sparse(fixture_copy / DOC)
    _report, by_path = _verdicts(fixture_copy)
    v = by_path[DOC]
    assert v.status == "error" and f"{DOC} is 6.0 GiB, over the 32 MiB limit" in v.checks[0].reason


def test_sparse_key_and_attachment_are_refused(fixture_copy):
    _sparse(fixture_copy / "jacs_data" / "public_keys" / f"{KEY_HASH}.pem")
    _sparse(fixture_copy / "jacs_data" / "files" / "data.csv")
    store = Store(FsStore(fixture_copy))
    with pytest.raises(StorageError, match=r"\.pem is 6\.0 GiB, over the 1 MiB limit"):
        _bounded(lambda: store.keys().resolve(KEY_HASH))
    with pytest.raises(Refused, match=r"data\.csv is 6\.0 GiB, over the 256 MiB limit"):
        _bounded(lambda: store.read_attachment("files/data.csv"))
    with pytest.raises(Refused, match="over the 1 MiB limit"):
        _bounded(lambda: list(public_key_files(store.objects, "jacs_data/public_keys/")))
    # the generic cap (backups, copies) is configurable
    with pytest.raises(Refused, match=r"is 6\.0 GiB, over the 1\.0 GiB limit"):
        FsStore(fixture_copy).get("jacs_data/files/data.csv")
    with pytest.raises(Refused, match=r"over the 64 KiB limit"):
        FsStore(fixture_copy, max_read_bytes=64 << 10).get("jacs_data/files/data.csv")


# -- symbolic links: inside followed everywhere, outside refused naming the link -----------------

@pytest.mark.parametrize("folder", ["documents", "jacs_data", "jacs_data/public_keys"])
def test_folder_linked_out_of_the_store_is_refused(fixture_copy, tmp_path, folder):
    outside = tmp_path / "outside" / folder.replace("/", "_")
    outside.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(fixture_copy / folder), str(outside))
    (fixture_copy / folder).symlink_to(outside)
    objects = FsStore(fixture_copy)
    with pytest.raises(Refused, match=f"{folder} is a symbolic link to .*outside the store; not followed"):
        list(objects.list(folder + "/"))
    inner = next(p.name for p in outside.iterdir())
    with pytest.raises(Refused, match=f"{folder} is a symbolic link to .*outside the store"):
        objects.get(f"{folder}/{inner}")
    top = folder.split("/")[0]
    listed = {i.key: i for i in objects.list("")}
    if top == folder:  # the link itself is listed, with why it is not followed
        assert "outside the store" in listed[folder].problem
    assert not any(k.startswith(folder + "/") for k in listed)
    report = _bounded(lambda: verify_store(Store(FsStore(fixture_copy))))
    said = " ".join(report.errors) + " ".join(c.reason for r in report.results for c in r.checks)
    assert f"{folder} is a symbolic link to" in said and "outside the store" in said
    assert report.exit_code != 0


def test_file_linked_out_of_the_store_is_refused(fixture_copy, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_bytes((fixture_copy / DOC).read_bytes())
    (fixture_copy / DOC).unlink()
    (fixture_copy / DOC).symlink_to(secret)
    _report, by_path = _verdicts(fixture_copy)
    v = by_path[DOC]
    assert v.status == "error" and "is a symbolic link to" in v.checks[0].reason and "outside the store" in \
        v.checks[0].reason


def test_links_inside_the_store_are_followed_consistently(fixture_copy):
    before, _ = _verdicts(fixture_copy)
    (fixture_copy / "jacs_data").rename(fixture_copy / "real_data")
    (fixture_copy / "jacs_data").symlink_to("real_data")
    (fixture_copy / "documents").rename(fixture_copy / "all_docs")
    (fixture_copy / "documents").symlink_to(fixture_copy / "all_docs")  # absolute, still inside
    objects = FsStore(fixture_copy)
    keys = {i.key for i in objects.list("") if i.problem is None}
    assert DOC in keys and f"jacs_data/public_keys/{KEY_HASH}.pem" in keys
    assert objects.get(DOC) == (fixture_copy / "all_docs" / DOC.split("/")[1]).read_bytes()
    assert objects.stat(DOC) is not None
    after, _ = _verdicts(fixture_copy)
    assert after.summary["valid"] == before.summary["valid"] > 0
    assert after.summary["error"] == 0 and after.errors == before.errors


def test_link_loop_is_reported_not_followed(fixture_copy):
    (fixture_copy / "documents" / "loop").symlink_to("..")
    (fixture_copy / "documents" / "self").symlink_to(".")
    (fixture_copy / "a").mkdir()
    (fixture_copy / "b").mkdir()
    (fixture_copy / "a" / "to_b").symlink_to("../b")
    (fixture_copy / "b" / "to_a").symlink_to("../a")
    infos = _bounded(lambda: list(FsStore(fixture_copy).list("")))
    problems = {i.key: i.problem for i in infos if i.problem}
    assert "a loop" in problems["documents/loop"] and "a loop" in problems["documents/self"]
    assert any("a loop" in p for p in problems.values() if "to_" in p)
    assert len(infos) < 500


def test_store_root_that_is_a_link_works(fixture_copy, tmp_path):
    (tmp_path / "alias").symlink_to(fixture_copy)
    objects = FsStore(tmp_path / "alias")
    assert objects.get(DOC) == (fixture_copy / DOC).read_bytes()
    assert not [i for i in objects.list("") if i.problem]


# -- odd names: listed as problems, never raised --------------------------------------------------

ODD = [("backslash", b"a\\b.json", "backslash"), ("non-UTF-8", b"bad\xff\xfe.json", "not valid UTF-8"),
       ("newline", b"new\nline.json", "newline"), ("RTL override", "x\u202egnp.json".encode(), "U+202E")]


@pytest.mark.parametrize("case,raw,why", ODD, ids=[c[0] for c in ODD])
def test_odd_names_are_listed_as_problems(fixture_copy, case, raw, why):
    (fixture_copy / "documents" / os.fsdecode(raw)).write_bytes(b"{}")
    objects = FsStore(fixture_copy)
    infos = list(objects.list(""))  # never raises
    odd = [i for i in infos if i.problem]
    assert len(odd) == 1 and why in odd[0].problem and not odd[0].no_content
    odd[0].problem.encode("utf-8")  # printable anywhere
    assert odd[0].problem.isprintable()
    assert sum(1 for i in infos if i.problem is None) == sum(1 for i in FsStore(fixture_copy).list("")) - 1
    with pytest.raises(StorageError):
        objects.get(odd[0].key)
