"""Template hashes and ControllerRevisions."""

from __future__ import annotations

from minik.controllers.revisions import (
    REVISION_HASH_LABEL,
    canonical,
    compute_hash,
    new_controller_revision,
    revision_hash,
    revision_number,
    template_from_revision,
)

TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
OWNER = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
}


def test_hash_is_stable_dns_safe_and_ignores_key_order() -> None:
    first = compute_hash(TEMPLATE)
    reordered = {"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}
    assert compute_hash(reordered) == first and canonical(reordered) == canonical(TEMPLATE)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")  # no vowels: no accidental words
    assert compute_hash({**TEMPLATE, "spec": {"containers": []}}) != first
    assert compute_hash(TEMPLATE, collision_count=1) != first  # how a collision is escaped
    assert compute_hash(TEMPLATE, collision_count=0) == first


def test_a_revision_restores_its_template() -> None:
    revision = new_controller_revision(OWNER, TEMPLATE, 3, None)
    hash_ = revision_hash(revision)
    assert revision["metadata"]["name"] == f"web-{hash_}"
    assert revision["metadata"]["labels"] == {"app": "web", REVISION_HASH_LABEL: hash_}
    assert revision["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"  # what kubectl rollout undo applies
    assert template_from_revision(revision) == TEMPLATE
    assert revision_number(revision) == 3
    assert template_from_revision({"data": "garbage"}) == {}


def test_daemonset_style_revisions_carry_the_given_hash_and_label() -> None:
    revision = new_controller_revision(
        OWNER, TEMPLATE, 1, None, hash_="abc", hash_label="controller-revision-hash"
    )
    assert revision["metadata"]["name"] == "web-abc"
    assert revision["metadata"]["labels"]["controller-revision-hash"] == "abc"
    unlabelled = {"metadata": {"name": "web-xyz"}}
    assert revision_hash(unlabelled) == "xyz"  # falls back to the name suffix
