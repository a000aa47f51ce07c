"""Make ``ansible_collections.ironstone.k8s`` importable for the unit tests.

The Makefile links the repository root at
``.ansible/collections/ansible_collections/ironstone/k8s``; this puts that
collections root on ``sys.path`` so tests import the code exactly as Ansible
does on a node.
"""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".ansible", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "ironstone", "k8s")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.relpath(ROOT, os.path.dirname(LINK)), LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
