"""`pack register` loads a pack's rules/*.yaml: good files stored, a bad file reported
with its reason, a rule whose file disappeared removed with its trigger."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from levante.db.connect import make_engine
from levante.platform.core.pack_registry import register_packs
from levante.platform.rules import store as rule_store
from levante.platform.triggers.tables import triggers
from tests.harness import write_pack

GOOD = """---
name: on_alert
pack: somebody-else
enabled: true
trigger:
  type: core.st2.webhook
  parameters: {url: alerts}
action:
  ref: watch.fix
"""
SECOND = """---
name: on_end
trigger: {type: core.st2.generic.actiontrigger}
criteria:
  trigger.status: {type: equals, pattern: failed}
action: {ref: core.noop}
"""
FILES = {
    "pack.yaml": "name: watch\nversion: 0.1.0\ndescription: Rules tests.\n",
    "actions/fix.yaml": "name: fix\nrunner_type: noop\n",
    "rules/good.yaml": GOOD,
    "rules/second.yml": SECOND,
    "rules/broken.yaml": "name: [unclosed\n",
    "rules/bad_operator.yaml": SECOND.replace("on_end", "odd").replace("equals", "like"),
}


def test_pack_rules(migrated_url: str, tmp_path: Path) -> None:
    packs = write_pack(tmp_path / "packs", "watch", FILES)
    db = make_engine(migrated_url)
    try:
        report = register_packs(db, [str(packs)], ["watch"])
        assert report.content.get("rules") == 2
        reasons = {Path(e["file"]).name: e["reason"] for e in report.errors}
        assert set(reasons) == {"broken.yaml", "bad_operator.yaml"}
        assert "YAML" in reasons["broken.yaml"]
        assert "unknown operator 'like'" in reasons["bad_operator.yaml"]
        rows, total = rule_store.list_rules(db, pack="watch")
        assert total == 2 and [r["ref"] for r in rows] == ["watch.on_alert", "watch.on_end"]
        assert rows[0]["metadata_file"] == "rules/good.yaml"
        assert rows[0]["context"] == {}  # runs as [rulesengine] system_user
        webhook_trigger = rows[0]["trigger_ref"]

        (packs / "watch" / "rules" / "good.yaml").unlink()
        again = register_packs(db, [str(packs)], ["watch"])
        assert again.content.get("rules") == 1 and again.content.get("rules_removed") == 1
        assert [r["ref"] for r in rule_store.list_rules(db, pack="watch")[0]] == \
            ["watch.on_end"]
        with db.connect() as conn:
            assert conn.execute(select(triggers.c.ref)
                                .where(triggers.c.ref == webhook_trigger)).first() is None
    finally:
        db.dispose()
