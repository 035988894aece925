# The two Quickstart commands: `make app` and `make test`.
PYTHON ?= python3
PORT ?= 8501

.PHONY: app test install install-test samples bench lint

install:
	$(PYTHON) -m pip install -q -e .

install-test:
	$(PYTHON) -m pip install -q -e ".[test]"

app: install
	$(PYTHON) -m streamlit run app/main.py --server.port $(PORT)

test: install-test
	$(PYTHON) -m ruff check inspector app tests bench sample_models
	$(PYTHON) -m pytest

samples: install
	$(PYTHON) sample_models/build.py

lint:
	$(PYTHON) -m ruff check inspector app tests bench sample_models
