"""Tree edits for near-valid JSON payloads (hypothesis): replace, delete or insert at any
node, so a property test explores bodies one edit away from a valid one."""

from __future__ import annotations

from hypothesis import strategies as st


def mutate(data, payload: object, names: list[str], replacement) -> object:
    paths = list(_paths(payload))
    path = data.draw(st.sampled_from(paths), label="path")
    target = _get(payload, path)
    edits = ["replace"] + (["delete"] if path else [])
    if isinstance(target, dict | list):
        edits.append("insert")
    edit = data.draw(st.sampled_from(edits), label="edit")
    if edit == "replace":
        new = data.draw(replacement, label="new value")
        return _update(payload, path, lambda _: new)
    if edit == "delete":
        return _update(payload, path[:-1], lambda parent: _without(parent, path[-1]))
    if isinstance(target, dict):
        key = data.draw(st.sampled_from([*names, "input", "instances"]) | st.text(max_size=8))
        value = data.draw(replacement, label="new value")
        return _update(payload, path, lambda d: {**d, key: value})
    index = data.draw(st.integers(0, len(target)))
    item = data.draw(replacement | st.just(target[0] if target else 1.0), label="new item")
    return _update(payload, path, lambda items: [*items[:index], item, *items[index:]])


def _paths(value: object, path: tuple = ()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _get(value: object, path: tuple) -> object:
    for step in path:
        value = value[step]
    return value


def _update(value: object, path: tuple, change) -> object:
    if not path:
        return change(value)
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _update(value[head], tuple(rest), change)
    return copy


def _without(container: dict | list, step: object) -> dict | list:
    if isinstance(container, dict):
        return {key: item for key, item in container.items() if key != step}
    return [item for index, item in enumerate(container) if index != step]
