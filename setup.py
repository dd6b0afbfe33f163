"""The one thing pyproject.toml cannot say: the gate suite (``gates/``) and the Locust
scenarios (``locustfiles/``) live at the checkout's top level, and the wheel ships
them inside the package as ``pytest_fixgate.gates`` and ``pytest_fixgate.locustfiles``
(:mod:`pytest_fixgate.suite` finds them either way). Everything else is in
pyproject.toml."""

from setuptools import find_namespace_packages, setup

SHIPPED = {"pytest_fixgate.gates": "gates", "pytest_fixgate.locustfiles": "locustfiles"}

setup(
    # Namespace packages too: data folders such as reference/migrations have no __init__.py.
    packages=[
        *find_namespace_packages(
            include=["pytest_fixgate", "pytest_fixgate.*"], exclude=["*.__pycache__"]
        ),
        *SHIPPED,
    ],
    package_dir=SHIPPED,
)
