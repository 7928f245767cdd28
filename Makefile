# berth: `make run` opens the dashboard, `make test` runs every test. Both install what is
# missing first (as root on Debian 12) and are safe to run again.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := python3-venv libseccomp2 iproute2 nftables busybox-static docker-registry \
	skopeo umoci podman runc tmux zstd xz-utils util-linux e2fsprogs docker-compose openssl gcc \
	libc6-dev librsvg2-bin strace buildah git uidmap slirp4netns openssh-server \
	fuse-overlayfs curl
STAMP := $(VENV)/.installed
# the program berth runs inside containers (--init's pid 1, exec's joiner): static, so that a
# container never maps a host library (engine/runtime/berth_init.c, engine/runtime/sealed.py)
INIT := engine/runtime/berth-init

.PHONY: run test kube-build-bg system venv bytecode screenshots bench clean

run: system $(STAMP) bytecode
	$(BIN)/berth

# The Kubernetes node tests (tests/test_kube*.py) need a control plane built from Debian's
# source package (../shared/kube/build.sh: ~7 min on 2 cores once, then cached in KUBE_BUILD).
# It builds in the background, niced, while the rest of the suite runs; the kube tests run
# last, by when it is done (their fixture waits on the same lock if it is not).
KUBE_BUILD ?= $(HOME)/.cache/berth-kube
KUBE_SHARED := ../shared/kube
# Debian's kubectl 1.20 (exec, attach and port-forward over SPDY only), which
# tests/test_kube_spdy.py drives: kept apart from whatever kubectl the PATH has
KUBECTL_120 := $(KUBE_BUILD)/kubectl-1.20

test: system $(STAMP) bytecode kube-build-bg $(KUBECTL_120)
	@$(BIN)/python -m pytest -n 2 --dist loadgroup -q -p no:cacheprovider \
		--ignore-glob='tests/test_kube*.py'; rest=$$?; \
	tail -1 $(KUBE_BUILD)/build.log 2>/dev/null; \
	KUBE_BUILD=$(KUBE_BUILD) $(BIN)/python -m pytest -n 2 --dist loadgroup -q \
		-p no:cacheprovider tests/test_kube*.py || exit 1; exit $$rest

$(KUBECTL_120):
	@mkdir -p $(KUBE_BUILD); tmp=$$(mktemp -d $(KUBE_BUILD)/kubectl.XXXXXX); \
	( cd $$tmp && { apt-get download -qq kubernetes-client 2>/dev/null || \
	  { apt-get update -qq && apt-get download -qq kubernetes-client; }; } && \
	  dpkg -x kubernetes-client_*.deb x && ./x/usr/bin/kubectl version --client --short \
	  | grep -q 'v1\.20\.' && mv x/usr/bin/kubectl $(abspath $@) ); rc=$$?; rm -rf $$tmp; \
	[ $$rc -eq 0 ] || { echo "could not fetch Debian's kubectl 1.20 (kubernetes-client)"; exit 1; }

kube-build-bg:
	@mkdir -p $(KUBE_BUILD); \
	if [ ! -x $(KUBE_BUILD)/bin/kube-controller-manager ]; then \
		echo "building the Kubernetes control plane in the background: $(KUBE_BUILD)/build.log"; \
		( t0=$$(date +%s); KUBE_BUILD=$(KUBE_BUILD) flock $(KUBE_BUILD)/build.lock \
			nice -n 19 bash $(KUBE_SHARED)/build.sh \
			> $(KUBE_BUILD)/build.log 2>&1; rc=$$?; \
		  echo "kube build: exit $$rc after $$(( $$(date +%s) - t0 ))s" >> $(KUBE_BUILD)/build.log \
		) </dev/null >/dev/null 2>&1 & \
	fi

system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v docker >/dev/null || missing="$$missing docker.io"; \
	command -v kubectl >/dev/null || missing="$$missing kubernetes-client"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

venv: $(STAMP)

# Compiled modules, as pip writes them for what it installs: with PYTHONDONTWRITEBYTECODE set
# (some CI images set it) every berth command and container monitor compiled engine/ and tui/
# again, ~60 ms of each `berth ps`. Only changed files are compiled again.
# (berth-init too: compiled from the tree like the bytecode, and needed by every exec)
# Then the same modules in one file (engine/codebundle.py), which the berth command and its
# monitors read instead of searching for each: rewritten only when a source changed.
bytecode: $(INIT) $(BIN)/berth.fast
	@$(BIN)/python -m compileall -q -j 0 engine tui >/dev/null
	@$(BIN)/python -m engine.codebundle >/dev/null

# the berth command without site's start-up scan (tui/nosite.py), over the one pip writes
$(BIN)/berth.fast: tui/berth.in $(STAMP)
	sed -e 's|@PYTHON@|$(abspath $(BIN))/python|' -e 's|@TREE@|$(CURDIR)|' tui/berth.in > $(BIN)/berth.tmp
	chmod 755 $(BIN)/berth.tmp && mv $(BIN)/berth.tmp $(BIN)/berth && touch $@

$(INIT): engine/runtime/berth_init.c
	gcc -static -Os -s -Wall -Wextra -Werror -o $@ $<

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

screenshots: system $(STAMP) bytecode
	$(BIN)/python -m tui.screenshots

# every bench/*/run, then one summary line per bench from the `RESULT <name> <ratio>x target
# <=<t>x met|NOT met` lines each prints last (bench/README.md); BENCH=pull,unpack runs only those
bench: system $(STAMP) bytecode
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info $(INIT)
