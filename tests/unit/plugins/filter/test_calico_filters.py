"""The Calico manifest loader filter (plugins/filter/calico.py)."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.ironstone.k8s.plugins.filter import calico as calico_filters


def test_every_document_of_every_text_in_order_without_empty_ones():
    texts = ["---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\nkind: X\n", "kind: Y\nlist: [1, 2]\n"]
    docs = calico_filters.calico_load_manifests(texts)
    assert [d['kind'] for d in docs] == ['Namespace', 'X', 'Y']
    assert docs[2]['list'] == [1, 2]


def test_unsafe_tags_are_refused_and_bad_yaml_is_an_error():
    with pytest.raises(AnsibleFilterError, match='not valid YAML'):
        calico_filters.calico_load_manifests(["a: !!python/object/apply:os.system ['true']\n"])
    with pytest.raises(AnsibleFilterError, match='not valid YAML'):
        calico_filters.calico_load_manifests(["a: [1, 2\n"])


def test_split_by_namespace_without_namespaces_holds_nothing_back():
    objects = [{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'tigera-operator'}},
               {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'tigera-operator', 'namespace': 'tigera-operator'}}]
    assert calico_filters.calico_split_by_namespace(objects, None) == {'ready': objects, 'pending': []}
    assert calico_filters.calico_split_by_namespace(objects, []) == {'ready': objects[:1], 'pending': objects[1:]}
