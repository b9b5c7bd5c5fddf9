"""Reports by SMS through the gateway webhook: 50 sampled tables reported from ten
watchers' phones (Spanish and English), Twilio-style and RapidPro-style posts, with typos
and wrong sums that are refused with the right reply and then sent again; the live PVT
estimate moves with them. Gateway authentication, rate limits, the audit log, the CLI.
SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import gzip
import json
import re

import polars as pl
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.io import read_election
from escrutinio.observers import sms
from escrutinio.pvt.design import make_design
from escrutinio.server.storage import field
from escrutinio.server.storage.db import Database
from escrutinio.server.testing import ServerClient

KEYS = {"CC": "CC", "FPV": "FPV", "MTS": "MTS", "UCS": "UCS", "MAS - IPSP": "MAS", "21F": "21F", "PDC": "PDC",
        "MNR": "MNR", "PAN-BOL": "PANBOL"}


def _subset(bolivia, tmp_path, keep=("La Paz", "Oruro", "Pando")):
    """Three departments of the 2019 cómputo, and acta 1001 (Berlin)."""
    src = bolivia / "2019" / "computo_2019-10-25.csv.gz"
    target = tmp_path / "computo_subset.csv.gz"
    with gzip.open(src, "rt", encoding="utf-8-sig") as f, gzip.open(target, "wt", encoding="utf-8") as out:
        for i, line in enumerate(f):
            cells = line.split(",")
            if i == 0 or (cells[1] == "Bolivia" and cells[2] in keep) or cells[0] == "1001":
                out.write(line)
    return target


def _message(row: dict, code: str, kind: str = "P", valid_delta: int = 0, key_typo: bool = False, style: int = 0) -> str:
    valid = sum(int(row[c]) for c in KEYS)
    parts = [f"{('MSA' if key_typo and c == 'MAS - IPSP' else k)}{int(row[c])}" for c, k in KEYS.items() if int(row[c]) or style]
    parts += [f"V{valid + valid_delta}", f"B{int(row['blank'])}", f"N{int(row['null'])}", f"E{int(row['emitted'])}"]
    if style == 1:                                   # lower case, spaces, signs
        return f"{kind.lower()} {row['unit']}  " + ", ".join(re.sub(r"^([A-Z0-9]*?[A-Z])(\d+)$", r"\1 = \2", p).lower()
                                                        for p in parts) + f" {code}"
    if style == 2:                                   # the code first
        return f"{code} {kind}{row['unit']} " + " ".join(parts)
    return f"{kind} {row['unit']} " + " ".join(parts) + f" {code}"


class Gateway:
    def __init__(self, client, name: str, secret: str):
        self.client, self.name, self.secret = client, name, secret

    def twilio(self, number: str, body: str, sid: str):
        r = self.client.post(f"/api/v1/sms/inbound?gateway={self.name}", data={"From": number, "Body": body, "MessageSid": sid},
                             headers={"X-Gateway-Secret": self.secret})
        m = re.fullmatch(r'<\?xml version="1.0" encoding="UTF-8"\?><Response>(?:<Message>(.*)</Message>)?</Response>', r.text, re.S)
        assert m, r.text
        return r.status_code, (m.group(1) or "").replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")

    def rapidpro(self, number: str, body: str, sid: str):
        auth = base64.b64encode(f"{self.name}:{self.secret}".encode()).decode()
        r = self.client.post(f"/api/v1/sms/inbound?gateway={self.name}", data={"from": number, "text": body, "id": sid},
                             headers={"Authorization": f"Basic {auth}"})
        return r.status_code, r.json()["reply"]


def test_fifty_tables_by_sms(database_url, tmp_path, bolivia):
    sc = ServerClient(database_url, tmp_path, extra={"sms_per_window": 12, "sms_window_seconds": 600})
    try:
        _run(sc, database_url, tmp_path, bolivia)
    finally:
        sc.close()


def _run(sc, url, tmp_path, bolivia):
    path = _subset(bolivia, tmp_path)
    snap = read_election([str(path)]).snapshots[0]
    design = make_design(snap.frame.filter(pl.col("unit") != "1001"), 60, "2026", ["department"], list(snap.levels))
    assert sc.client.post("/api/v1/pvt/design", json=json.loads(design.to_json()), headers=sc.headers("admin")).status_code == 200
    sc.load(path)
    assert sc.client.get("/api/v1/pvt/estimate").status_code == 409          # nothing reported yet

    # the documented commands: a gateway (its secret on stdout) and ten watchers' phones (their codes)
    runner = CliRunner()
    done = runner.invoke(main, ["server", "gateway", "add", "rapidpro-bo", "--database", url])
    assert done.exit_code == 0, done.output
    secret = done.stdout.strip().splitlines()[-1]
    gw = Gateway(sc.client, "rapidpro-bo", secret)
    rows = {r["unit"]: r for r in snap.frame.iter_rows(named=True)}
    tables = design.sample[:50]
    phones = []
    for w in range(10):
        name = f"watcher-{w}"
        sc.token("watcher", name)
        lang = "es" if w < 5 else "en"
        number = f"+591 7{w:03d} 4567"
        args = ["server", "phone", "add", name, "--number", number, "--lang", lang, "--database", url]
        args += [a for t in tables[w * 5:(w + 1) * 5] for a in ("--table", t)]
        if w == 0:
            args += ["--table", "1001"]
        done = runner.invoke(main, args)
        assert done.exit_code == 0, done.output
        code = done.stdout.strip().splitlines()[-1]
        assert sms.damm_valid(code)
        phones.append({"number": field.normalise_number(number), "lang": lang, "code": code, "tables": tables[w * 5:(w + 1) * 5]})

    # the example: 1001 with a wrong valid total, in both languages, by both styles
    es, en = phones[0], phones[5]
    bad_1001 = f"R 1001 CC130 MTS3 MAS36 PDC2 MNR1 PANBOL2 V173 B1 N0 E174 {es['code']}"
    assert gw.twilio(es["number"], bad_1001, "SM-1001-a") == (200, "1001: votos válidos 173 ≠ suma 174")
    assert gw.rapidpro(en["number"], bad_1001.replace(es["code"], en["code"]), "rp-1001-a") == \
        (200, "1001: this table is not assigned to your phone; call your coordinator")

    sid = 0
    replies = {}
    for w, phone in enumerate(phones):
        send = gw.twilio if w % 2 == 0 else gw.rapidpro
        for k, unit in enumerate(phone["tables"]):
            row = rows[unit]
            sid += 1
            mistake = (w + k) % 5
            if mistake == 1:       # a wrong valid total
                status, reply = send(phone["number"], _message(row, phone["code"], valid_delta=+1), f"m{sid}")
                valid = sum(int(row[c]) for c in KEYS)
                expect = {"es": f"{unit}: votos válidos {valid + 1} ≠ suma {valid}", "en": f"{unit}: valid votes {valid + 1} ≠ sum {valid}"}
                assert (status, reply) == (200, expect[phone["lang"]])
            elif mistake == 2:     # MSA for MAS
                status, reply = send(phone["number"], _message(row, phone["code"], key_typo=True), f"m{sid}")
                assert status == 200 and reply.startswith({"es": f"{unit}: no reconozco MSA", "en": f"{unit}: unknown MSA"}[phone["lang"]]), reply
            elif mistake == 3:     # a mistyped observer code
                wrong = phone["code"][:-1] + str((int(phone["code"][-1]) + 1) % 10)
                status, reply = send(phone["number"], _message(row, wrong), f"m{sid}")
                expect = {"es": f"El código de observador {wrong} no es válido (dígito de control): revíselo y envíe de nuevo",
                          "en": f"Observer code {wrong} is not valid (check digit): check it and send again"}
                assert (status, reply) == (200, expect[phone["lang"]])
            elif mistake == 4:     # votes cast that do not add up
                row2 = {**row, "emitted": int(row["emitted"]) + 2}
                status, reply = send(phone["number"], _message(row2, phone["code"]), f"m{sid}")
                assert status == 200 and reply.startswith({"es": f"{unit}: emitidos {int(row['emitted']) + 2} ≠ válidos",
                                                           "en": f"{unit}: votes cast {int(row['emitted']) + 2} ≠ valid"}[phone["lang"]]), reply
            sid += 1
            status, reply = send(phone["number"], _message(row, phone["code"], style=k % 3), f"m{sid}")
            replies[unit] = reply
            expect = {"es": f"{unit}: informe de conteo rápido recibido, {int(row['emitted'])} votos emitidos, ",
                      "en": f"{unit}: PVT report received, {int(row['emitted'])} votes cast, "}[phone["lang"]]
            assert status == 200 and reply.startswith(expect), (unit, reply)
    # a gateway's retry of the same message is counted once
    unit = phones[1]["tables"][0]
    assert gw.rapidpro(phones[1]["number"], _message(rows[unit], phones[1]["code"], style=0), f"m{sid}")[1].startswith(unit)
    assert gw.rapidpro(phones[1]["number"], _message(rows[unit], phones[1]["code"], style=0), f"m{sid}") == \
        (200, f"{unit}: ya recibido, se cuenta una sola vez.")

    states = sc.client.get("/api/v1/entries/states").json()["states"]
    assert states["first_entered"] == 50
    est = sc.client.get("/api/v1/pvt/estimate")
    assert est.status_code == 200, est.text
    e = est.json()
    assert e["reported"] == 50 and e["single_reports"] == 50 and e["missing"] == 10
    mas = e["choices"]["MAS - IPSP"]
    assert mas["lo"] < mas["share"] < mas["hi"]
    progress = sc.client.get("/api/v1/pvt/progress").json()
    assert progress["reported"] == 50 and progress["single_reports"] == 50

    # a typist's second entry from the photo confirms one: counted copy replaces the single report
    unit = tables[0]
    values = {f: int(rows[unit][f]) for f in [*snap.choices, "blank", "null", "registered", "emitted"]}
    r = sc.client.post("/api/v1/entries", json={"unit": unit, "values": values, "client_id": "typist-" + unit},
                       headers=sc.headers("typist"))
    assert r.json()["state"] == "agreed"
    e = sc.client.get("/api/v1/pvt/estimate").json()
    assert e["reported"] == 50 and e["single_reports"] == 49

    # refusals: wrong gateway secret, unknown number, rate limit
    assert sc.client.post("/api/v1/sms/inbound?gateway=rapidpro-bo", data={"from": "+59170000000", "text": "x"},
                          headers={"X-Gateway-Secret": "nope"}).status_code == 401
    assert sc.client.post("/api/v1/sms/inbound?gateway=rapidpro-bo", data={"from": "+59170000000", "text": "x"}).status_code == 401
    assert gw.rapidpro("+59170000000", "P 1 CC1", "u1") == (200, "Este número no está registrado. Llame a su coordinador.")
    spam = phones[9]
    codes = [gw.rapidpro(spam["number"], "hola", f"spam{i}")[0] for i in range(14)]
    assert 429 in codes and codes.count(200) < 12

    # everything in the audit log and in the SMS log
    db = Database(url)
    try:
        with db.session() as s:
            kept = field.messages(s, limit=1000)
        from escrutinio.server.storage.users import audit_entries
        with db.session() as s:
            audited = [a for a in audit_entries(s, limit=5000) if a["action"].startswith("sms_")]
    finally:
        db.dispose()
    assert len(kept) == len(audited)          # one audit line per message, whatever became of it
    print(f"SMS kept {len(kept)}, audited {len(audited)}, accepted {sum(m['status'] == 'accepted' for m in kept)}, "
          f"refused {sum(m['status'] == 'refused' for m in kept)}, rate-limited {codes.count(429)}; PVT estimate "
          f"reported {e['reported']} (single reports {e['single_reports']}), MAS {mas['share']:.2f} [{mas['lo']:.2f}, {mas['hi']:.2f}]")
    assert sum(1 for m in kept if m["status"] == "accepted") == 50
    assert all(secret not in json.dumps(a, default=str) for a in audited)
    refused = sc.client.get("/api/v1/sms/messages?status=refused&limit=1000", headers=sc.headers("coordinator")).json()
    assert len(refused) == sum(m["status"] == "refused" for m in kept) and {"number", "body", "reply", "problem"} <= set(refused[0])
    assert sc.client.get("/api/v1/sms/messages", headers=sc.headers("watcher")).status_code == 403
