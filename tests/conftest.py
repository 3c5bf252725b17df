import os

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite the expected-findings files of the AppSpec fixtures (review the diff)",
    )


@pytest.fixture(scope="module")
def endpoint():
    """moto's server mode on loopback (one per test module), for the AWS paths: its URL."""
    from test_aws_emulator import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture
def update_snapshots(request):
    return request.config.getoption("--update-snapshots")


def pytest_collection_modifyitems(config, items):
    """Under CI=true nothing that needs sshd, HAProxy or the AWS emulator may be skipped silently."""
    if os.environ.get("CI") == "true":
        os.environ.setdefault("APPSPEC_TESTS_REQUIRE_ALL", "1")
