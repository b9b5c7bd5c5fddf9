"""`escrutinio server phone add` and `server gateway add`: what they print, and their refusals
(one line, exit 2, nothing written)."""
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.observers import sms
from escrutinio.server.storage import field
from escrutinio.server.storage.db import Database
from escrutinio.server.testing import add_user, database


def test_phone_and_gateway_commands(tmp_path):
    with database("sqlite", tmp_path) as url:
        add_user(url, "watcher", "eva")
        add_user(url, "typist", "tom")
        run = CliRunner().invoke
        ok = run(main, ["server", "phone", "add", "eva", "--number", "+591 (7) 123-4567", "--database", url])
        assert ok.exit_code == 0, ok.output
        code = ok.stdout.strip()
        assert sms.damm_valid(code) and len(code) == 5
        assert "+59171234567" in ok.stderr
        for args, says in ((["eva", "--number", "+59171234567"], "already registered"),
                           (["tom", "--number", "+59170000001"], "phones are registered to watchers"),
                           (["nobody", "--number", "+59170000002"], "no active user 'nobody'"),
                           (["eva", "--number", "call me"], "is not a phone number")):
            bad = run(main, ["server", "phone", "add", *args, "--database", url])
            assert bad.exit_code == 2 and says in bad.output and "Traceback" not in bad.output, bad.output
        ok = run(main, ["server", "gateway", "add", "twilio-1", "--database", url])
        secret = ok.stdout.strip()
        assert ok.exit_code == 0 and len(secret) >= 40 and secret not in ok.stderr
        assert run(main, ["server", "gateway", "add", "twilio-1", "--database", url]).exit_code == 2
        assert "letters, digits" in run(main, ["server", "gateway", "add", "bad name!", "--database", url]).output
        db = Database(url)
        try:
            with db.session() as s:
                assert field.gateway_ok(s, "twilio-1", secret) and not field.gateway_ok(s, "twilio-1", secret + "x")
                assert not field.gateway_ok(s, "nobody", secret)
                phone = field.phone_of(s, "0059171234567")
                assert phone.user.name == "eva" and field.code_matches(phone, code)
                stored = s.execute(field.gateways.select()).first()
                assert secret not in str(tuple(stored)) and code not in str(tuple(s.execute(field.phones.select()).first()))
        finally:
            db.dispose()
