"""The *Connect…* dialog (ui/connect.py), offscreen, against real servers started here: moto and
SeaweedFS (S3), fake-gcs-server (GCS), Azurite (Azure). Fields are typed into the widgets,
*Test connection* is clicked, and what the store holds afterwards is looked at."""

import base64
import itertools
import time
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from s3servers import S3_KEY, S3_SECRET, free_port, moto_server, seaweedfs
from storage.backend_azure import AZURITE_ACCOUNT, AZURITE_KEY, azurite_endpoint, connection_string  # noqa: F401
from storage.backend_gcs import gcs_endpoint  # noqa: F401  (the fake-gcs-server fixture)

from jacs_desktop.jobs.connection_probe import SCRATCH_PREFIX
from jacs_desktop.storage import connect_form as cf
from jacs_desktop.storage.connections import Connections
from jacs_desktop.storage.s3 import S3Store
from jacs_desktop.storage.secrets import SESSION
from jacs_desktop.ui.connect import ConnectDialog


@pytest.fixture(scope="module")
def moto():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    """SeaweedFS checks signatures (moto does not), so a wrong secret is refused for real."""
    try:
        with seaweedfs(tmp_path_factory.mktemp("seaweed")) as endpoint:
            yield endpoint
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def no_aws_env(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "STORAGE_EMULATOR_HOST",
                "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


@pytest.fixture
def dialog(qtbot, no_aws_env):
    d = ConnectDialog()
    qtbot.addWidget(d)
    d.show()
    yield d
    if d._workers is not None:
        d._workers.wait(30000)


def type_into(d: ConnectDialog, kind: str, **values):
    """Choose *kind* in the chooser and type each value into its widget, as a user would."""
    d.kind_box.setCurrentIndex(cf.KINDS.index(kind))
    for name, value in values.items():
        w = d.widget(kind, name)
        if isinstance(value, bool):
            w.setChecked(value)
        elif hasattr(w, "set_value"):
            w.set_value(value)
        elif hasattr(w, "setEditText"):
            w.setEditText(value)
        else:
            w.clear()
            w.setText(value)


def run_test(qtbot, d: ConnectDialog, timeout=30000):
    d.test_result = None
    qtbot.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.test_result is not None, timeout=timeout)
    return d.test_result


def test_s3_on_moto_works_leaves_nothing_and_saves(qtbot, dialog, moto):
    bucket = f"jd-{uuid.uuid4().hex[:10]}"
    s3 = S3Store(bucket, endpoint_url=moto, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True)
    s3.put("keep/me.json", b"{}")
    type_into(dialog, "s3", endpoint=moto, bucket=bucket, prefix="jacs/prod", access_key=S3_KEY, secret_key=S3_SECRET)
    assert dialog.widget("s3", "path_style").isChecked()  # follows the endpoint
    assert dialog.url_view.text() == f"s3://{bucket}/jacs/prod?endpoint_url={moto}"
    r = run_test(qtbot, dialog)
    assert r.ok, r.message
    shown = dialog.result_label.toolTip()
    assert shown.startswith("✓ It works") and SCRATCH_PREFIX in shown and "removed" in shown
    assert [o.key for o in s3.list("")] == ["keep/me.json"]  # nothing left behind
    dialog.save_as.setText("moto-prod")
    dialog.connect_button.click()
    assert dialog.result() == ConnectDialog.DialogCode.Accepted
    assert dialog.url == "profile:moto-prod" and dialog.secrets["secret_key"] == S3_SECRET
    saved = Connections().get("moto-prod")
    assert saved.url == f"s3://{bucket}/jacs/prod?endpoint_url={moto}" and saved.access_key == S3_KEY
    assert SESSION.get(saved.secret_name()) == S3_SECRET  # no secure keyring here: kept for this run
    assert S3_SECRET not in Path(Connections().path).read_text()


def test_s3_wrong_secret_is_told_plainly(qtbot, dialog, seaweed):
    type_into(dialog, "s3", endpoint=seaweed, bucket="warmup", access_key=S3_KEY, secret_key="not-the-secret")
    r = run_test(qtbot, dialog)
    assert not r.ok and r.problem == "credentials"
    assert dialog.result_label.toolTip().startswith("✗ The credentials are missing or were not accepted.")
    assert "access key and secret" in dialog.result_label.toolTip()
    type_into(dialog, "s3", secret_key=S3_SECRET)
    assert run_test(qtbot, dialog).ok


def test_unreachable_endpoint_is_told_quickly(qtbot, dialog):
    type_into(dialog, "s3", endpoint=f"http://127.0.0.1:{free_port()}", bucket="jacs", access_key="a",
              secret_key="b")
    start = time.monotonic()
    r = run_test(qtbot, dialog)
    assert time.monotonic() - start < 10
    assert r.problem == "unreachable" and dialog.result_label.toolTip().startswith("✗ The server cannot be reached.")
    assert dialog.test_button.isEnabled()


def test_gcs_on_fake_gcs_server(qtbot, dialog, gcs_endpoint):  # noqa: F811
    from jacs_desktop.storage.gcs import GCSStore

    bucket = f"jd-{uuid.uuid4().hex[:10]}"
    gcs = GCSStore(bucket, endpoint_url=gcs_endpoint, create_bucket=True)
    type_into(dialog, "gs", bucket=bucket, prefix="stores/a", endpoint=gcs_endpoint, credentials="anonymous")
    r = run_test(qtbot, dialog)
    assert r.ok, r.message
    assert list(gcs.list("")) == []
    type_into(dialog, "gs", bucket="jd-no-such-bucket")
    r = run_test(qtbot, dialog)
    assert r.problem == "missing" and "The bucket was not found." in dialog.result_label.toolTip()
    type_into(dialog, "gs", bucket=bucket)
    dialog.save_as.setText("gcs")
    dialog.connect_button.click()
    assert dialog.url == "profile:gcs" and Connections().get("gcs").url == dialog.url_view.text()


def test_azure_on_azurite_key_wrong_key_and_connection_string(qtbot, dialog, azurite_endpoint):  # noqa: F811
    from jacs_desktop.storage.azure import AzureStore

    container = f"jd-{uuid.uuid4().hex[:10]}"
    az = AzureStore(container, connection_string=connection_string(azurite_endpoint), create_container=True)
    type_into(dialog, "azure", container=container, prefix="p", auth="key", account=AZURITE_ACCOUNT,
              account_key=AZURITE_KEY, endpoint=azurite_endpoint)
    r = run_test(qtbot, dialog)
    assert r.ok, r.message
    assert list(az.list("")) == []
    type_into(dialog, "azure", account_key=base64.b64encode(b"not the key" * 6).decode())
    r = run_test(qtbot, dialog)
    assert r.problem == "credentials" and "account key" in dialog.result_label.toolTip()
    type_into(dialog, "azure", auth="connection_string", connection_string=connection_string(azurite_endpoint),
              endpoint="")
    assert not dialog.widget("azure", "account_key").isEnabled()
    assert run_test(qtbot, dialog).ok
    dialog.save_as.setText("azurite")
    dialog.connect_button.click()
    saved = Connections().get("azurite")
    assert saved.access_key == AZURITE_ACCOUNT and AZURITE_KEY not in Path(Connections().path).read_text()
    assert SESSION.get(saved.secret_name()) == AZURITE_KEY


def test_problems_sit_under_their_fields_and_go_when_fixed(qtbot, dialog, tmp_path):
    type_into(dialog, "s3", bucket="Bad/Bucket", region="EU WEST", access_key="AK")
    assert dialog.error_text("s3", "bucket") == ""  # not before the first Connect or Test
    width = dialog.width()
    dialog.connect_button.click()
    assert dialog.isVisible() and dialog.result() != ConnectDialog.DialogCode.Accepted
    assert "'/'" in dialog.error_text("s3", "bucket")
    assert dialog.error_text("s3", "region") and dialog.error_text("s3", "secret_key")
    assert dialog._rows["s3"]["bucket"].error.isVisible()
    # what was typed is all still there
    assert (dialog.widget("s3", "bucket").text(), dialog.widget("s3", "region").text()) == ("Bad/Bucket", "EU WEST")
    type_into(dialog, "s3", bucket="good-bucket")
    assert dialog.error_text("s3", "bucket") == "" and not dialog._rows["s3"]["bucket"].error.isVisible()
    assert dialog.error_text("s3", "region")  # the others stay until they are fixed
    # another kind and back: each kind keeps its own fields
    type_into(dialog, "folder", path=str(tmp_path))
    type_into(dialog, "s3")
    assert dialog.widget("s3", "bucket").text() == "good-bucket"
    assert dialog.values("folder")["path"] == str(tmp_path)
    # messages under the fields never overlap the next field
    qtbot.waitUntil(lambda: dialog._rows["s3"]["region"].error.isVisible())
    _no_overlaps(dialog, "s3")
    assert dialog.width() == width


def _no_overlaps(d, kind):
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    rows = sorted((r for r in d._rows[kind].values() if r.isVisible()), key=lambda r: r.mapTo(d, QPoint(0, 0)).y())
    for a, b in itertools.pairwise(rows):
        a_bottom = a.mapTo(d, QPoint(0, 0)).y() + a.height()
        assert a_bottom <= b.mapTo(d, QPoint(0, 0)).y(), "a field's message runs into the next field"
        for lab in (a.error, a.note):
            if lab.isVisible():
                assert lab.height() >= lab.heightForWidth(lab.width()) - 1, f"clipped: {lab.toolTip()}"


def test_a_long_url_never_widens_the_dialog(qtbot, dialog):
    width = dialog.width()
    host = "very-long-host-name-" * 12
    type_into(dialog, "s3", endpoint=f"http://127.0.0.1:{free_port()}/{host}", bucket="b" * 63,
              prefix="/".join(["deep-folder-name"] * 20))
    assert len(dialog.url_view.text()) > 500
    run_test(qtbot, dialog)
    qtbot.wait(50)
    assert dialog.width() == width and dialog.minimumSizeHint().width() <= width
    type_into(dialog, "folder", path="/" + "/".join(["a-rather-long-folder-name"] * 30))
    dialog.connect_button.click()
    qtbot.wait(50)
    assert "There is no folder" in dialog.error_text("folder", "path") and dialog.width() == width


def test_remember_is_disabled_with_the_reason_without_a_keyring(dialog):
    assert not dialog.remember.isEnabled() and not dialog.remember.isChecked()
    assert "Cannot remember the secret: no secure keyring is available" in dialog.remember_row.note.toolTip()
    type_into(dialog, "gs")
    assert not dialog.remember_row.isVisible()  # nothing secret to remember for this kind


def test_a_sas_connection_string_opens_but_is_not_saved(qtbot, dialog):
    type_into(dialog, "azure", container="jacs", auth="connection_string",
              connection_string="BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=1&sig=x")
    dialog.save_as.setText("sas")
    dialog.connect_button.click()
    assert dialog.result() != ConnectDialog.DialogCode.Accepted
    assert "cannot be saved" in dialog.save_row.error.toolTip()
    dialog.save_as.setText("")
    dialog.connect_button.click()
    assert dialog.url == "azure://jacs" and dialog.secrets["connection_string"].startswith("BlobEndpoint")


def test_filled_from_a_saved_connection(qtbot, no_aws_env):
    d = ConnectDialog(url="s3://jacs/p?endpoint_url=http://127.0.0.1:9000&sse=AES256", access_key="AK", name="prod")
    qtbot.addWidget(d)
    assert d.kind == "s3" and d.values()["bucket"] == "jacs" and d.values()["sse"] == "AES256"
    assert d.values()["access_key"] == "AK" and d.save_as.text() == "prod"


def test_every_kind_renders(qtbot, dialog, tmp_path):
    """Each kind's page, rendered to PNG (looked at while building; see resources/screenshots)."""
    heights = {}
    for kind in cf.KINDS:
        type_into(dialog, kind)
        qtbot.wait(20)
        assert dialog.pages[kind].isVisible() and sum(p.isVisible() for p in dialog.pages.values()) == 1
        _no_overlaps(dialog, kind)
        path = tmp_path / f"connect-{kind}.png"
        assert dialog.grab().save(str(path)) and path.stat().st_size > 2000
        heights[kind] = dialog.height()
    assert heights["folder"] < heights["s3"]  # a hidden page takes no room


def test_the_window_opens_it_and_the_saved_connection(qtbot, tmp_path, no_aws_env, monkeypatch, fixture_copy):
    from jacs_desktop.storage.settings import Settings
    from jacs_desktop.ui.browser import BrowserWindow

    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False,
                      prefs=Settings())
    qtbot.addWidget(w)
    w.show()
    seen = []

    def fill_and_connect(self):
        seen.append(self)
        type_into(self, "folder", path=str(fixture_copy))
        self.save_as.setText("fixture")
        self._accept()
        return self.result()

    monkeypatch.setattr(ConnectDialog, "exec", fill_and_connect)
    w.sources_panel.s3_requested.emit()
    assert seen and w.url == "profile:fixture"
    assert Connections().get("fixture").url == fixture_copy.as_posix()
    qtbot.waitUntil(lambda: w.snapshot is not None and len(w.snapshot.documents) > 0, timeout=30000)
    w.close()


def test_a_result_goes_when_the_fields_it_was_about_change(qtbot, dialog, tmp_path):
    type_into(dialog, "folder", path=str(tmp_path / "gone"))
    dialog.connect_button.click()
    assert dialog.result_label.isVisible() and "Fix the fields" in dialog.result_label.toolTip()
    type_into(dialog, "folder", path=str(tmp_path))
    assert not dialog.result_label.isVisible()  # the problem went, so did the message
    assert run_test(qtbot, dialog).ok and dialog.result_label.isVisible()
    (tmp_path / "other").mkdir()
    type_into(dialog, "folder", path=str(tmp_path / "other"))
    assert not dialog.result_label.isVisible() and dialog.test_result is None


def test_closing_during_a_test_does_not_wait_for_it(qtbot, no_aws_env):
    """A server that accepts connections and never answers: the dialog closes at once; the test
    ends on the window's pool and its late result goes nowhere."""
    import socket

    from PySide6.QtWidgets import QWidget

    from jacs_desktop.ui.workers import WorkerPool

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.workers = WorkerPool(parent)
    d = ConnectDialog(parent)
    d.show()
    type_into(d, "s3", endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}", bucket="jacs", access_key="a",
              secret_key="b")
    qtbot.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    assert parent.workers.active == 1
    start = time.monotonic()
    d.reject()
    d.deleteLater()
    qtbot.wait(50)
    assert time.monotonic() - start < 1
    silent.close()  # the waiting request fails now
    qtbot.waitUntil(lambda: parent.workers.active == 0, timeout=30000)


def test_aws_profile_field_reaches_boto3(qtbot, no_aws_env, tmp_path, monkeypatch, seaweed):
    """The profile's keys (from a real shared credentials file) are what signs the requests:
    the right ones work on SeaweedFS, which checks signatures, a profile with a wrong secret is refused."""
    creds = tmp_path / "aws-credentials"
    creds.write_text(f"[jd-good]\naws_access_key_id = {S3_KEY}\naws_secret_access_key = {S3_SECRET}\n"
                     f"[jd-bad]\naws_access_key_id = {S3_KEY}\naws_secret_access_key = wrong\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    d = ConnectDialog()
    qtbot.addWidget(d)
    d.show()
    profiles = d.widget("s3", "profile")
    assert [profiles.itemText(i) for i in range(profiles.count())] == ["", "jd-bad", "jd-good"]
    type_into(d, "s3", endpoint=seaweed, bucket="warmup", profile="jd-good")
    assert "profile=jd-good" in d.url_view.text()
    assert run_test(qtbot, d).ok, d.result_label.toolTip()
    type_into(d, "s3", profile="jd-bad")
    assert run_test(qtbot, d).problem == "credentials"
    type_into(d, "s3", profile="jd-missing")
    d.test_button.click()
    assert "no AWS profile named 'jd-missing'" in d.error_text("s3", "profile")
    d._workers.wait(30000)


def test_a_missing_extra_is_said_under_the_chooser(qtbot, dialog, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "azure.storage.blob", None)  # as if the azure extra were not installed
    type_into(dialog, "azure")
    assert "pip install 'jacs-desktop[azure]'" in dialog.error_text("azure", "kind")
    assert dialog.kind_row.error.isVisible()
    type_into(dialog, "s3")
    assert dialog.error_text("s3", "kind") == "" and not dialog.kind_row.error.isVisible()


def test_editing_a_saved_connection_keeps_its_secret(qtbot, no_aws_env, tmp_path):
    from jacs_desktop.storage.secrets import Secrets

    spec = cf.build("s3", {"bucket": "jacs", "endpoint": "http://127.0.0.1:9000", "access_key": "AK",
                           "secret_key": "the-secret"})
    cf.save_connection(spec, "prod", remember=False, secrets=Secrets("session"))
    saved = Connections().get("prod")
    d = ConnectDialog(url=saved.url, access_key=saved.access_key, name="prod")
    qtbot.addWidget(d)
    assert d.values()["secret_key"] == "the-secret" and d.widget("s3", "secret_key").echoMode() != 0
    type_into(d, "s3", prefix="moved/here")
    d.connect_button.click()
    assert d.url == "profile:prod"
    again = Connections().get("prod")
    assert again.url == "s3://jacs/moved/here?endpoint_url=http://127.0.0.1:9000"
    assert again.resolve_secrets() == {"access_key": "AK", "secret_key": "the-secret"}
    SESSION.clear()  # a new run: the secret was not remembered, so the field asks for it
    d2 = ConnectDialog(url=again.url, access_key="AK", name="prod")
    qtbot.addWidget(d2)
    assert d2.values()["secret_key"] == ""
    d2.connect_button.click()
    assert d2.error_text("s3", "secret_key") == "The access key needs its secret key"
