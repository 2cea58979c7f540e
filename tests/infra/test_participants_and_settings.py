"""Are bad participant sheets and settings refused in one pass, naming the line, column or key?"""

from __future__ import annotations

import pytest

from conftest import run_matsuri
from matsuri.errors import NotFound, UsageError
from matsuri.infra import participants, settings
from matsuri.infra.base import PROVISIONERS, Provisioner, get_provisioner


def parse(text: str):
    return participants.parse(text.strip().splitlines())


def test_a_good_sheet_reads_with_either_header_spelling_and_a_bom(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("\ufeffUser name,E-mail,Role,Team\nann,ann@example.com,Learner,red\n\n"
                    "ivy,ivy@example.com,instructor,\n", encoding="utf-8")
    people = participants.load(path)
    assert [(p.username, p.role, p.team, p.line) for p in people] == [
        ("ann", "learner", "red", 2), ("ivy", "instructor", "", 4)]


def test_every_problem_is_listed_with_its_line_and_column():
    with pytest.raises(UsageError) as caught:
        parse("""
username,email,role,team
ann,ann@example.com,learner,red
Bob.Smith,bob@example.com,learner,
ann,ann2@example.com,learner,
cat,not-an-email,leaner,
root,r@example.com,judge,
dan-,dan@example.com,judge,
eve,ANN@example.com,judge,
""")
    message = str(caught.value)
    assert "has 7 problem(s); nothing was created" in message
    for expected in ("line 3, column 'username': 'Bob.Smith' is not usable as an account name",
                     "(for example 'bob-smith')",
                     "line 4, column 'username': 'ann' already appears on line 2",
                     "line 5, column 'email': 'not-an-email' is not an e-mail address",
                     "line 5, column 'role': 'leaner' is not a role; use learner, instructor or judge",
                     "line 6, column 'username': 'root' is reserved",
                     "line 7, column 'username': 'dan-' is not usable",
                     "line 8, column 'email': 'ANN@example.com' already appears on line 2"):
        assert expected in message, expected


def test_the_language_a_person_reads_is_optional_and_checked():
    people = parse("username,email,role,言語\nann,a@b.io,learner,EN\nben,b@b.io,learner,\n")
    assert [(p.username, p.language) for p in people] == [("ann", "en"), ("ben", "")]
    with pytest.raises(UsageError, match="line 2, column 'language': 'fr' is not a language of the kit; use ja or en"):
        parse("username,email,role,language\nann,a@b.io,learner,fr\n")


def test_the_job_and_the_activity_log_opt_out_are_optional_and_checked():
    people = parse("username,email,role,職種,activity log\nann,a@b.io,learner,営業,No\n"
                   "ben,b@b.io,learner,data engineer,\ncat,c@b.io,learner,,yes\n")
    assert [(p.username, p.job, p.activity_log) for p in people] == [
        ("ann", "営業", False), ("ben", "data engineer", True), ("cat", "", True)]
    with pytest.raises(UsageError) as caught:
        parse(f"username,email,role,job,activity_log\nann,a@b.io,learner,{'x' * 61},maybe\n")
    assert "line 2, column 'job': longer than 60 characters" in str(caught.value)
    assert "line 2, column 'activity_log': 'maybe' is neither yes nor no" in str(caught.value)


@pytest.mark.parametrize("text, expected", [
    ("", "is empty"),
    ("username,email\nann,a@b.io", "missing column(s) role"),
    ("username,email,role,shoe\nann,a@b.io,learner,9", "column 4 'shoe': unknown column"),
    ("username,email,role\n", "lists nobody"),
    ("username,email,role\nann,a@b.io,learner,extra", "4 cells but the header has 3"),
])
def test_broken_sheets_get_one_clear_sentence(text, expected):
    with pytest.raises(UsageError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        participants.parse(text.splitlines())


def test_a_missing_or_non_utf8_file_says_what_to_do(tmp_path):
    with pytest.raises(NotFound, match="username,email,role,team"):
        participants.load(tmp_path / "nope.csv")
    (tmp_path / "sjis.csv").write_bytes("username,email,role\n太郎,a@b.io,learner\n".encode("shift_jis"))
    with pytest.raises(UsageError, match="CSV UTF-8"):
        participants.load(tmp_path / "sjis.csv")


def test_the_shipped_settings_load_and_bad_keys_are_named(tmp_path):
    shipped = settings.load()
    assert shipped.event.days == 5 and shipped.bucket == f"{shipped.event.id}-festival"
    assert shipped.kit_spec == f"matsuri=={shipped.event.kit_version}"
    cases = {
        '[event]\nid = "x-1"\n[sagemaker]\nvolume_gbs = 5\n': "`sagemaker.volume_gbs` is not a setting matsuri knows (did you mean volume_gb?)",
        '[event]\nid = "x-1"\n[sagemaker]\nvolume_gb = "ten"\n': "`sagemaker.volume_gb` must be a whole number, not 'ten'",
        '[event]\nid = "Matsuri 2027"\n': "`event.id` is 'Matsuri 2027': use 2-20 characters",
        '[event]\nid = "x-1"\nstarts = 2027-02-05\nends = 2027-02-01\n': "is before starts",
        '[event]\nname = "x"\n': "`event.id` is missing",
        '[event]\nid = "x-1"\n[jupyterhub]\nauthenticator = "dummy"\n': "choose shared-password or oauth",
        '[event]\nid = "x-1"\n[sagemaker]\ndirect_internet_access = false\n': "needs subnet_id",
        '[evnt]\nid = "x"\n': "`evnt` is not a setting matsuri knows (did you mean event?)",
        '[event]\nid = "x-1"\nstarts = "soon"\n': "`event.starts` must be a date like 2026-06-01",
        '[event\n': "is not valid TOML",
        '[event]\nid = "x-1"\n[jupyterhub]\nadmins = ["ann", 7]\n': "`jupyterhub.admins` must list text",
        '[event]\nid = "x-1"\n[jupyterhub]\nport = 0\n': "`jupyterhub.port` must be a port number",
    }
    for i, (text, expected) in enumerate(cases.items()):
        path = tmp_path / f"s{i}.toml"
        path.write_text(text)
        with pytest.raises(UsageError) as caught:
            settings.load(path)
        assert expected in str(caught.value) and str(path) in str(caught.value), (text, caught.value)


def test_the_registry_finds_each_target_and_names_the_valid_ones():
    for name in PROVISIONERS:
        assert issubclass(get_provisioner(name), Provisioner)
    with pytest.raises(UsageError, match="Unknown target 'kubernetes'. Choose one of: local, jupyterhub, sagemaker"):
        get_provisioner("kubernetes")


def test_the_cli_refuses_a_bad_sheet_without_a_traceback(tmp_path):
    (tmp_path / "people.csv").write_text("username,email,role\nann,ann@example.com,pilot\n")
    run = run_matsuri(["infra", "plan", "--target", "local", "--participants", str(tmp_path / "people.csv")],
                      exit_code=2)
    assert "line 2, column 'role': 'pilot' is not a role" in run.err and "Traceback" not in run.err
    run = run_matsuri(["infra", "plan", "--target", "moon", "--participants", str(tmp_path / "people.csv")],
                      exit_code=2)
    assert "Unknown target 'moon'" in run.err
