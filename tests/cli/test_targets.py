"""minik.cli.targets: ``TYPE [NAME...]``, ``TYPE,TYPE``, ``TYPE/NAME ...`` as kubectl reads them."""

from __future__ import annotations

import pytest

from minik.cli.errors import CLIError
from minik.cli.targets import ns_for, one_target, parse_targets
from minik.client.kinds import CONFIGMAPS, DEPLOYMENTS, NODES, PODS, SERVICES
from tests.cli.fakes import GADGETS, WIDGETS, OfflineSession


@pytest.fixture()
def session() -> OfflineSession:
    return OfflineSession()


async def test_a_type_alone_is_the_whole_collection(session: OfflineSession) -> None:
    assert await parse_targets(session, ["pods"], verb="get") == [(PODS, [])]
    assert await parse_targets(session, ["po"], verb="get") == [(PODS, [])]
    assert await parse_targets(session, ["Deployment"], verb="get") == [(DEPLOYMENTS, [])]
    assert await parse_targets(session, ["deployments.apps"], verb="get") == [(DEPLOYMENTS, [])]


async def test_a_type_and_names(session: OfflineSession) -> None:
    assert await parse_targets(session, ["pod", "a", "b"], verb="get") == [(PODS, ["a", "b"])]


async def test_comma_separated_types_without_duplicates(session: OfflineSession) -> None:
    got = await parse_targets(session, ["pods,svc,po,cm"], verb="get")
    assert got == [(PODS, []), (SERVICES, []), (CONFIGMAPS, [])]


async def test_type_slash_name_groups_names_by_type(session: OfflineSession) -> None:
    got = await parse_targets(session, ["pod/a", "svc/b", "po/c"], verb="delete")
    assert got == [(PODS, ["a", "c"]), (SERVICES, ["b"])]


async def test_a_category_expands_to_its_members(session: OfflineSession) -> None:
    got = await parse_targets(session, ["all"], verb="get")
    assert [ref for ref, _ in got] == [PODS, SERVICES, DEPLOYMENTS, WIDGETS]


async def test_custom_resources_resolve_through_discovery(session: OfflineSession) -> None:
    for word in ("widgets", "widget", "Widget", "wd", "widgets.example.com"):
        assert await parse_targets(session, [word, "w1"], verb="get") == [(WIDGETS, ["w1"])]
    assert await parse_targets(session, ["gadget/g"], verb="get") == [(GADGETS, ["g"])]


async def test_built_in_names_never_ask_the_server(session: OfflineSession) -> None:
    await parse_targets(session, ["pods,deploy"], verb="get")
    await parse_targets(session, ["cm/a", "no/b"], verb="get")
    assert session.discovery_calls == 0


async def test_no_words_says_what_is_missing(session: OfflineSession) -> None:
    with pytest.raises(CLIError) as info:
        await parse_targets(session, [], verb="describe")
    assert info.value.message == "you must specify the type of resource to describe"
    assert info.value.hint is not None and "minikctl describe pods" in info.value.hint


async def test_an_unknown_type_points_at_api_resources(session: OfflineSession) -> None:
    with pytest.raises(CLIError) as info:
        await parse_targets(session, ["sprockets"], verb="get")
    assert info.value.message == 'the server doesn\'t have a resource type "sprockets"'
    assert info.value.hint is not None and "api-resources" in info.value.hint


async def test_mixing_forms_is_refused(session: OfflineSession) -> None:
    with pytest.raises(CLIError, match="no need to specify a resource type as a separate argument"):
        await parse_targets(session, ["pods", "pod/a"], verb="get")


async def test_type_slash_nothing_is_refused(session: OfflineSession) -> None:
    with pytest.raises(CLIError, match="expected TYPE/NAME"):
        await parse_targets(session, ["pod/"], verb="get")


async def test_names_with_several_types_are_refused(session: OfflineSession) -> None:
    with pytest.raises(CLIError) as info:
        await parse_targets(session, ["pods,svc", "a"], verb="get")
    assert info.value.message == "names can only be given with a single resource type"
    assert info.value.hint is not None and "pod/a svc/b" in info.value.hint


async def test_one_target_needs_exactly_one_object(session: OfflineSession) -> None:
    assert await one_target(session, ["deploy", "web"], verb="scale") == (DEPLOYMENTS, "web")
    assert await one_target(session, ["deployment/web"], verb="scale") == (DEPLOYMENTS, "web")
    for words in (["deploy"], ["deploy", "a", "b"], ["deploy/a", "svc/b"]):
        with pytest.raises(CLIError, match="scale needs exactly one object"):
            await one_target(session, words, verb="scale")


def test_namespace_of_a_request(session: OfflineSession) -> None:
    assert ns_for(PODS, session) == "team"
    assert ns_for(PODS, session, all_namespaces=True) is None
    assert ns_for(NODES, session) is None  # cluster-scoped: never a namespace
