# Two commands on a fresh machine (Python 3.11+ and make):
#   make console   create .venv, install faqbot, chat with the bundled vmst.io knowledge
#   make test      install the test tools and real servers' packages, run lint and the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: console test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[discord,matrix,test]'
	touch $@

console: $(VENV)/.installed
	$(BIN)/faqbot console

lint: $(VENV)/.installed-test
	$(BIN)/ruff check faqbot tests bench tools
	$(BIN)/ruff format --check faqbot tests bench tools
	$(BIN)/hadolint --failure-threshold style Dockerfile

test: lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python bench/speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
