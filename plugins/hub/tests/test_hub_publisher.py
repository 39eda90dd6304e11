"""The ``hub`` publisher, through the real huggingface_hub client and a loopback Hub."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory.errors import StopRun, UserError
from factory.export import export_run
from factory_hub.loopback import LoopbackHub
from factory.testing.conformance import PublisherConformance
from factory.testing.sample_run import write_sample_run

huggingface_hub = pytest.importorskip("huggingface_hub")
pytest.importorskip("datasets")

from factory_hub import HubPublisher  # noqa: E402

TOKEN = "hf_" + "loopbackTestToken0123456789abcdef"  # fake; assembled so the repo holds no token-shaped literal
REPO = "factory-org/ko-sample"
COMMIT_PATH = r"^POST /api/datasets/factory-org/ko-sample/commit/"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # the loopback Hub speaks LFS
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # tests/conftest.py sets it
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-token"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with LoopbackHub(token=TOKEN) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    run = write_sample_run(tmp_path_factory.mktemp("hub") / "run")
    return export_run(run, test_size=0.25).folder


@pytest.fixture
def folder(exported, tmp_path) -> Path:
    """A private copy of the exported folder, for tests that change it."""
    return Path(shutil.copytree(exported, tmp_path / "data"))


def publisher(**options) -> HubPublisher:
    return HubPublisher(backoff_initial_s=0.01, **options)


def local_files(folder: Path) -> dict[str, bytes]:
    """What a push uploads: every file but hidden ones (the export record ``.export.json`` stays local)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def pushed_files(hub: LoopbackHub, revision: str = "main") -> dict[str, bytes]:
    files = hub.files(REPO, revision)
    files.pop(".gitattributes")
    return files


class TestHubPublisherConformance(PublisherConformance):
    """The suite every publisher plugin runs, against the loopback Hub through the real client."""

    @pytest.fixture
    def make_publisher(self, hub):
        return publisher

    @pytest.fixture
    def repo(self, hub):
        return REPO


def test_first_push_is_one_private_commit_with_every_file(hub, folder):
    result = publisher().publish(folder, REPO)

    commits = hub.commits(REPO)
    assert [c.title for c in commits][1:] == ["initial commit"]
    assert result.commit == commits[0].oid
    assert hub.count("POST", r"/commit/") == 1
    assert pushed_files(hub) == local_files(folder)
    assert result.files == sorted(local_files(folder))
    assert hub.repo(REPO).private is True
    assert result.url == f"{hub.url}/datasets/{REPO}"
    tree = hub.repo(REPO).resolve("main").tree
    assert tree["train-00000-of-00001.parquet"].lfs and not tree["README.md"].lfs  # both upload paths used
    downloaded = huggingface_hub.hf_hub_download(REPO, "README.md", repo_type="dataset", endpoint=hub.url,
                                                 token=TOKEN, cache_dir=folder.parent / "cache")
    assert Path(downloaded).read_bytes() == (folder / "README.md").read_bytes()


def test_repush_of_an_unchanged_run_makes_no_commit(hub, folder):
    first = publisher().publish(folder, REPO)
    second = publisher().publish(folder, REPO)
    assert second.commit is None
    assert hub.commits(REPO)[0].oid == first.commit
    assert hub.count("POST", r"/commit/") == 1
    assert hub.count("POST", r"/preupload/") == 1  # nothing was even offered for upload

    # one changed file: a new commit that carries only that file
    (folder / "README.md").write_text((folder / "README.md").read_text(encoding="utf-8") + "\nMore notes.\n",
                                      encoding="utf-8")
    third = publisher().publish(folder, REPO)
    assert third.commit == hub.commits(REPO)[0].oid != first.commit
    before = hub.repo(REPO).commits[first.commit].tree
    after = hub.repo(REPO).resolve("main").tree
    assert [path for path in after if path not in before or after[path].oid != before[path].oid] == ["README.md"]


def test_reexport_of_the_same_run_pushes_nothing_and_stale_splits_are_removed(hub, tmp_path):
    run = write_sample_run(tmp_path / "run")
    folder = export_run(run, test_size=0.25).folder
    publisher().publish(folder, REPO)
    export_run(run, test_size=0.25)
    assert publisher().publish(folder, REPO).commit is None

    export_run(run)  # no test split any more
    result = publisher().publish(folder, REPO)
    assert result.commit is not None
    remote = hub.files(REPO)
    assert "test-00000-of-00001.parquet" not in remote and "test.jsonl" not in remote
    assert ".gitattributes" in remote  # only stale data files are deleted
    assert pushed_files(hub) == local_files(folder)


def test_public_and_branch(hub, folder):
    result = publisher().publish(folder, REPO, private=False, revision="dev")
    assert hub.repo(REPO).private is False
    assert set(hub.repo(REPO).branches) == {"main", "dev"}
    assert [c.title for c in hub.commits(REPO, "main")] == ["initial commit"]
    assert hub.commits(REPO, "dev")[0].oid == result.commit
    assert pushed_files(hub, "dev") == local_files(folder)
    assert result.url.endswith(f"/datasets/{REPO}/tree/dev")
    assert publisher().publish(folder, REPO, revision="dev").commit is None  # existing branch reused


def test_secret_in_a_file_is_refused_before_any_request(hub, folder, monkeypatch):
    secret = "my-Service-Secret-0042"
    monkeypatch.setenv("FACTORY_TEST_SERVICE_TOKEN", secret)
    with (folder / "train.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(f'{{"id": "x", "instruction": "비밀", "input": "", "output": "{secret}"}}\n')
    with pytest.raises(UserError) as info:
        publisher().publish(folder, REPO)
    message = str(info.value)
    assert "train.jsonl:10:" in message and "$FACTORY_TEST_SERVICE_TOKEN" in message
    assert secret not in message and "\n" not in message
    assert hub.requests == []

    (folder / "notes.md").write_text("key: sk-" + "abc123XYZ" * 4 + "\n", encoding="utf-8")
    monkeypatch.delenv("FACTORY_TEST_SERVICE_TOKEN")
    (folder / "train.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(UserError, match=r"notes\.md:1: looks like a secret \(openai-key\)"):
        publisher().publish(folder, REPO)
    assert hub.requests == []


def test_bad_token_is_one_line_and_nothing_is_created(hub, folder, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_" + "wrongToken" * 3 + "00")
    with pytest.raises(UserError) as info:
        publisher().publish(folder, REPO)
    assert "401" in str(info.value) and "HF_TOKEN" in str(info.value)
    assert "\n" not in str(info.value)
    assert hub.repos == {}
    assert hub.requests == [("GET", "/api/whoami-v2", 401)]

    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(UserError, match="no Hugging Face token"):
        publisher().publish(folder, REPO)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="HF_HUB_OFFLINE is set"):
        publisher().publish(folder, REPO)
    assert len(hub.requests) == 1


def test_5xx_on_commit_is_retried(hub, folder):
    hub.fail_next(COMMIT_PATH, times=2, status=503)
    result = publisher().publish(folder, REPO)
    assert hub.count("POST", r"/commit/") == 3
    assert [status for method, path, status in hub.requests if path.endswith("/commit/main")] == [503, 503, 200]
    assert len(hub.commits(REPO)) == 2 and result.commit == hub.commits(REPO)[0].oid
    assert pushed_files(hub) == local_files(folder)


def test_a_commit_whose_answer_was_lost_is_not_duplicated(hub, folder):
    hub.fail_next(COMMIT_PATH, times=1, status=500, apply=True)
    result = publisher().publish(folder, REPO)
    assert hub.count("POST", r"/commit/") == 1
    assert len(hub.commits(REPO)) == 2
    assert result.commit == hub.commits(REPO)[0].oid


def test_persistent_5xx_stops_with_one_line(hub, folder):
    hub.fail_next(COMMIT_PATH, times=10, status=502)
    with pytest.raises(StopRun) as info:
        publisher(max_attempts=2).publish(folder, REPO)
    assert "2 attempts" in str(info.value) and "502" in str(info.value) and "\n" not in str(info.value)
    assert hub.count("POST", r"/commit/") == 2
    assert len(hub.commits(REPO)) == 1


def test_dry_run_tree_equals_what_is_uploaded(hub, folder, tmp_path):
    dry = tmp_path / "dry"
    result = publisher().publish(folder, REPO, dry_run_dir=dry)
    assert result.commit is None and hub.requests == []
    assert local_files(dry) == local_files(folder)

    publisher().publish(folder, REPO)
    assert pushed_files(hub) == local_files(dry)
    with pytest.raises(UserError, match="must be new or empty"):
        publisher().publish(folder, REPO, dry_run_dir=dry)


def test_user_mistakes(hub, folder, tmp_path):
    with pytest.raises(UserError, match="expected ORG/NAME"):
        publisher().publish(folder, "no-slash")
    with pytest.raises(UserError, match="no exported dataset folder"):
        publisher().publish(tmp_path / "missing", REPO)
    with pytest.raises(UserError, match="publisher.bogus: unknown key"):
        HubPublisher(bogus=1)
    with pytest.raises(UserError, match="403"):
        publisher().publish(folder, "someone-else/ko-sample")
    (folder / "README.md").write_text("---\nlicense: [unclosed\n---\n# hand-edited\n", encoding="utf-8")
    with pytest.raises(UserError, match="README.md: the Hub rejected the card's metadata"):
        publisher().publish(folder, REPO)
    assert hub.count("POST", r"/commit/") == 0


def test_registered_and_push_command(hub, folder, tmp_path):
    from click.testing import CliRunner

    from factory.commands.push import push_command
    from factory.plugins import get_plugin

    assert get_plugin("publisher", "hub") is HubPublisher
    runner = CliRunner()
    dry = tmp_path / "dry"
    out = runner.invoke(push_command, [str(folder), "--repo", REPO, "--dry-run", str(dry)])
    assert out.exit_code == 0, out.output
    assert f"written to {dry}" in out.output and local_files(dry) == local_files(folder)
    out = runner.invoke(push_command, [str(folder), "--repo", REPO, "--public"])
    assert out.exit_code == 0, out.output
    assert f"committed {hub.commits(REPO)[0].oid}" in out.output and hub.repo(REPO).private is False
    out = runner.invoke(push_command, [str(folder), "--repo", REPO])
    assert "already up to date" in out.output
