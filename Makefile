# ironstone.k8s — developer and CI entry points. Every target runs from .venv.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COLLECTION_LINK := .ansible/collections/ansible_collections/ironstone/k8s
SANITY_ROOT := $(CURDIR)/.cache/sanity
SANITY_DIR := $(SANITY_ROOT)/ansible_collections/ironstone/k8s
GET_PIP := $(HOME)/.ansible/test/cache/get_pip_24_2.py

export ANSIBLE_HOME := $(CURDIR)/.ansible
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export MOLECULE_GLOB := molecule/*/molecule.yml
export PATH := $(BIN):$(PATH)

# Molecule scenarios, in the order `make test` runs them.
SCENARIOS ?= default runtime runtime_docker runtime_archive runtime_v2 storage etcd etcd_ops

.PHONY: help setup engine image lab lab-down test unit lint sanity molecule build bench clean

help:
	@echo "make setup     build .venv from requirements.txt"
	@echo "make lab       start the lab nodes (inventories/lab) and run playbooks/site.yml"
	@echo "make lab-down  remove the lab containers, network and volumes"
	@echo "make test      unit tests, ansible-lint, ansible-test sanity, every Molecule scenario"
	@echo "make bench     timing report for the runtime and etcd stages"
	@echo "make build     build the Galaxy tarball"

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

setup: $(STAMP) $(COLLECTION_LINK)

engine:
	@lab/ensure-docker.sh

image: engine
	@mkdir -p .cache/lab
	@lab/image/build.sh > .cache/lab/image.new && mv .cache/lab/image.new .cache/lab/image

lab: setup image
	$(BIN)/ansible-playbook lab/up.yml -e lab_image=$$(cat .cache/lab/image)
	$(BIN)/ansible-playbook playbooks/site.yml

lab-down: setup engine
	$(BIN)/ansible-playbook lab/down.yml

test: unit lint sanity molecule

unit: setup
	$(BIN)/python -m pytest tests/unit -q

lint: setup
	$(BIN)/ansible-lint --profile production

$(GET_PIP): lab/get_pip.py
	mkdir -p $(dir $@)
	cp lab/get_pip.py $@

sanity: setup $(GET_PIP)
	@command -v shellcheck >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }
	rm -rf $(SANITY_DIR) && mkdir -p $(SANITY_DIR)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(SANITY_DIR)
	cd $(SANITY_DIR) && git init -q && git add -A && \
	  $(BIN)/ansible-test sanity --venv --python 3.11 --color no

molecule: setup image
	@set -e; summary=""; for s in $(SCENARIOS); do \
	  echo "=== molecule test -s $$s"; start=$$(date +%s); \
	  LAB_IMAGE=$$(cat .cache/lab/image) $(BIN)/molecule test -s $$s || { echo "=== molecule scenario $$s FAILED"; exit 1; }; \
	  summary="$$summary$$(printf '%-16s %5ss' $$s $$(( $$(date +%s) - start )))\n"; \
	done; printf "=== molecule scenario times\n$$summary"

build: setup
	$(BIN)/ansible-galaxy collection build --force --output-path .cache/dist

bench: setup image
	$(BIN)/python lab/bench.py

clean: lab-down
	rm -rf .cache/sanity .cache/dist .cache/facts
