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
# Packaging tools (galaxy-importer, antsibull-docs, ansible-builder) live in their own venv, so that
# they cannot move the pinned ansible in .venv.
TOOLS := $(CURDIR)/.venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
TOOLS_REQUIREMENTS := tests/packaging/requirements-tools.txt
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(CURDIR)/.cache/dist/ironstone-k8s-$(VERSION).tar.gz
PKG_DIR := $(CURDIR)/.cache/pkg
PKG_COLLECTIONS := $(PKG_DIR)/collections
# Run a packaging tool as a user would: without this repository's ansible.cfg and .ansible/.
TOOL_ENV := env -u ANSIBLE_CONFIG -u ANSIBLE_HOME PATH=$(TOOLS)/bin:$(PATH)
IMPORTER_LINT ?= False

export ANSIBLE_HOME := $(CURDIR)/.ansible
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export MOLECULE_GLOB := molecule/*/molecule.yml
export PATH := $(BIN):$(PATH)

# Molecule scenarios, in lanes that `make molecule` runs side by side (lanes separated by ';',
# scenarios within a lane one after another; tests/molecule_lanes.py). Every scenario is in one
# lane. `make molecule SCENARIOS="etcd ssh"` runs just those, one after another.
MOLECULE_LANES ?= etcd_ops etcd; cluster storage ssh cluster_ops; runtime runtime_docker runtime_archive runtime_v2 preflight default
SCENARIOS ?=

.PHONY: help setup engine image hosttools lab lab-down test unit lint sanity molecule build bench clean \
	tools package package-check ee docs-lint importer

help:
	@echo "make setup     build .venv from requirements.txt"
	@echo "make lab       start the lab nodes (inventories/lab) and run playbooks/site.yml"
	@echo "make lab-down  remove the lab containers, network and volumes"
	@echo "make test      unit tests, ansible-lint, ansible-test sanity, the package checks, every Molecule scenario"
	@echo "make bench     timing report for the runtime and etcd stages"
	@echo "make build     build the Galaxy tarball"
	@echo "make package   check the tarball: offline install with its dependencies, EE context, docs, galaxy-importer"
	@echo "make tools     build .venv-tools (galaxy-importer, antsibull-docs, ansible-builder)"

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

lab: setup image hosttools
	$(BIN)/ansible-playbook lab/up.yml -e lab_image=$$(cat .cache/lab/image)
	$(BIN)/ansible-playbook playbooks/site.yml

lab-down: setup engine
	$(BIN)/ansible-playbook lab/down.yml

test: unit lint sanity package molecule

# Host tools the lab stand-ins need: gpg signs the stand-in repository (lab/standin/build_repo.py);
# the API stand-in's unit tests run against a throwaway real etcd.
hosttools:
	@missing=""; for t in gpg:gnupg gpgv:gpgv etcd:etcd-server etcdctl:etcd-client; do \
	  command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	  if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

unit: setup hosttools
	$(BIN)/python -m pytest tests/unit tests/packaging -q

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

molecule: setup image hosttools
	LAB_IMAGE=$$(cat .cache/lab/image) $(BIN)/python tests/molecule_lanes.py --molecule $(BIN)/molecule \
	  $(if $(strip $(SCENARIOS)),--subset --lanes "$(SCENARIOS)",--lanes "$(MOLECULE_LANES)")

build: setup
	$(BIN)/ansible-galaxy collection build --force --output-path .cache/dist

$(TOOLS_STAMP): $(TOOLS_REQUIREMENTS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --upgrade pip
	$(TOOLS)/bin/pip install -qq -r $(TOOLS_REQUIREMENTS)
	touch $@

tools: $(TOOLS_STAMP)

package: package-check ee docs-lint importer

# The tarball installs offline into an empty path with the dependencies galaxy.yml declares, made into
# tarballs from the pinned ansible package's copies; alone it is refused.
package-check: build
	@TIMEFORMAT='=== package-check %1Rs'; time env -u ANSIBLE_CONFIG $(BIN)/python tests/packaging/package_check.py \
	  --tarball $(TARBALL) --work $(PKG_DIR) \
	  --site "$$($(BIN)/python -c 'import ansible_collections; print(list(ansible_collections.__path__)[0])')"

# ansible-builder finds the collection's Python and system requirements, and makes a build context.
ee: package-check tools
	@TIMEFORMAT='=== ee %1Rs'; time $(TOOL_ENV) python tests/packaging/ee_check.py \
	  --collections $(PKG_COLLECTIONS) --work $(CURDIR)/.cache/ee

# Module and role docs of the installed copy render, and their references within the collection resolve.
# (GIT_CEILING_DIRECTORIES: antsibull-docs copies a collection inside a git work tree by `git ls-files`.)
docs-lint: package-check tools
	@TIMEFORMAT='=== docs-lint %1Rs'; time ( cd $(PKG_COLLECTIONS)/ansible_collections/ironstone/k8s && \
	  $(TOOL_ENV) GIT_CEILING_DIRECTORIES=$(CURDIR)/.cache ANSIBLE_COLLECTIONS_PATH=$(PKG_COLLECTIONS) \
	  antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs self . )

# Galaxy's own import checks on the tarball (tests/packaging/galaxy-importer.cfg); fails on its errors.
importer: build tools
	@rm -rf .cache/importer && mkdir -p .cache/importer
	@TIMEFORMAT='=== importer %1Rs'; time ( cd .cache/importer && \
	  $(TOOL_ENV) GALAXY_IMPORTER_CONFIG=$(CURDIR)/tests/packaging/galaxy-importer.cfg \
	  GALAXY_IMPORTER_RUN_ANSIBLE_LINT=$(IMPORTER_LINT) python -m galaxy_importer.main $(TARBALL) > importer.log 2>&1; \
	  rc=$$?; grep -v '^Loading ' importer.log; \
	  if [ $$rc -ne 0 ] || grep -q '^ERROR' importer.log; then echo "=== galaxy-importer refused $(TARBALL)"; exit 1; fi; \
	  echo "=== galaxy-importer accepted $(notdir $(TARBALL)) with $$(grep -c '^WARNING' importer.log) warnings" )

bench: setup image
	$(BIN)/python lab/bench.py

clean: lab-down
	rm -rf .cache/sanity .cache/dist .cache/facts .cache/pkg .cache/ee .cache/importer
