"""docker-compose.yml, the Dockerfiles under docker/ and .env.example, checked without Docker: the files parse,
every build input exists, every command names a real entry point of an installed distribution (parsed by its own
click tree, so a wrong subcommand or option fails here), ports, volumes, health checks and the GPU reservation are
declared, credentials only come from the env file. Where a Docker client with the compose plugin is installed,
``docker compose config`` validates the file too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from compose_testing import (
    COMPOSE,
    ENV_EXAMPLE,
    PYPROJECT,
    REPO,
    TEST_PASSWORD,
    TEST_RAY_TOKEN,
    builds,
    check_command,
    command_words,
    example_environment,
    published_ports,
    rendered,
    root_command,
)
from deploy_files import (
    DeployFileError,
    DockerIgnore,
    Instruction,
    console_script,
    copy_sources,
    dotenv_names,
    interpolate,
    interpolations,
    parse_dockerfile,
    pip_extras,
    resolve_command,
    string_values,
)

SERVICES = ("postgres", "migrate", "ray-head", "ray-worker")
RAY_SERVICES = ("ray-head", "ray-worker")
DATABASE_ENV = "DEMO_SEARCH_DB"


def service(name: str) -> dict:
    return rendered()["services"][name]


def dockerfiles() -> list[Path]:
    return sorted({dockerfile for _, _, dockerfile in builds()})


def dependencies(name: str) -> dict[str, str]:
    """What service ``name`` waits for: dependency -> condition (the list form means service_started)."""
    depends_on = COMPOSE["services"][name].get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {dependency: (spec or {}).get("condition", "service_started") for dependency, spec in depends_on.items()}


# --- the compose file ---------------------------------------------------------------------------------------------


def test_compose_file_declares_the_four_services_in_compose_spec_form() -> None:
    assert "version" not in COMPOSE, "docker-compose.yml has a top-level `version:` key; the Compose spec drops it"
    missing = [name for name in SERVICES if name not in COMPOSE.get("services", {})]
    assert not missing, f"docker-compose.yml lacks the services {missing}"


def test_postgres_runs_postgres_15_on_a_named_volume_with_credentials_from_the_env_file() -> None:
    postgres = service("postgres")
    assert postgres.get("image") == "postgres:15", f"postgres must run image postgres:15, got {postgres.get('image')}"
    env_files = postgres.get("env_file")
    env_files = [env_files] if isinstance(env_files, str) else env_files or []
    assert ".env" in [item if isinstance(item, str) else item.get("path") for item in env_files], (
        f"postgres must read its credentials from env_file .env, got env_file={env_files}")
    data_mounts = [v for v in postgres.get("volumes", []) if str(v).endswith(":/var/lib/postgresql/data")]
    assert data_mounts, "postgres has no volume mounted on /var/lib/postgresql/data: its data would die with it"


def test_every_named_volume_is_declared_at_top_level() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, spec in rendered()["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.get("source", "") if isinstance(volume, dict) else str(volume).split(":")[0]
            is_named = source and not source.startswith((".", "/", "~"))
            assert not is_named or source in declared, (
                f"service {name} mounts named volume {source!r}, not declared under top-level volumes: {declared}")


def test_postgres_has_a_pg_isready_healthcheck_and_its_dependants_wait_until_healthy() -> None:
    test = service("postgres").get("healthcheck", {}).get("test")
    assert test and "pg_isready" in " ".join(command_words(test)), f"postgres healthcheck must use pg_isready: {test}"
    dependants = {name: dependencies(name)["postgres"] for name in COMPOSE["services"]
                  if "postgres" in dependencies(name)}
    assert dependants, "no service depends on postgres"
    for name, condition in dependants.items():
        assert condition == "service_healthy", (
            f"service {name} must wait for postgres with condition service_healthy, got {condition}")


def test_migrate_runs_once_before_the_ray_head() -> None:
    head_waits_for = dependencies("ray-head")
    assert head_waits_for.get("migrate") == "service_completed_successfully", (
        f"ray-head must depend on migrate with condition service_completed_successfully, got {head_waits_for}")
    assert service("migrate").get("restart", "no") == "no", "migrate is one-shot: it must not be restarted"


def test_every_service_command_names_a_real_entry_point() -> None:
    commands = {name: spec["command"] for name, spec in rendered()["services"].items() if "command" in spec}
    built = {name for name, _, _ in builds()}
    assert built <= set(commands), f"services built here without a command: {sorted(built - set(commands))}"
    for name, command in commands.items():
        check_command(command_words(command), f"service {name}")


def test_migrate_upgrades_the_database_and_the_ray_nodes_start_ray() -> None:
    assert command_words(service("migrate")["command"])[:3] == ["demo-search", "db", "upgrade"], (
        f"migrate must run `demo-search db upgrade`, got {service('migrate')['command']}")
    head = command_words(service("ray-head")["command"])
    assert head[:3] == ["ray", "start", "--head"] and "--block" in head, (
        f"ray-head must `ray start --head --block`: {head}")
    worker = command_words(service("ray-worker")["command"])
    assert worker[:2] == ["ray", "start"] and "--address=ray-head:6379" in worker and "--block" in worker, (
        f"ray-worker must `ray start --address=ray-head:6379 --block`: {worker}")
    assert "--port=6379" in head, f"ray-head must listen on 6379, where the workers join: {head}"
    assert "--dashboard-host=0.0.0.0" in head and "--dashboard-port=8265" in head, (
        f"ray-head's dashboard must listen on 0.0.0.0:8265 to be published: {head}")


def test_ray_head_publishes_the_dashboard_and_offers_6379_on_the_network() -> None:
    head = service("ray-head")
    assert ("8265", "8265") in published_ports(head), (
        f"ray-head must publish 8265:8265 (dashboard and Jobs API), got ports {head.get('ports')}")
    assert "6379" in [str(port) for port in head.get("expose", [])] + [c for _, c in published_ports(head)], (
        "ray-head must expose 6379 (Ray's GCS) to the workers on the compose network")


def test_ray_workers_wait_for_a_head_whose_healthcheck_asks_the_dashboard() -> None:
    assert dependencies("ray-worker").get("ray-head") == "service_healthy", (
        f"ray-worker must wait for ray-head with condition service_healthy, got {dependencies('ray-worker')}")
    test = " ".join(command_words(service("ray-head").get("healthcheck", {}).get("test", [])))
    assert ":8265/" in test, f"ray-head's healthcheck must ask the dashboard on 8265, where jobs go: {test!r}"


def test_ray_worker_reserves_nvidia_gpus_and_can_be_scaled() -> None:
    worker = service("ray-worker")
    devices = worker.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) and d.get("count") == "all"
               for d in devices), f"ray-worker must reserve driver nvidia, capabilities [gpu], count all: {devices}"
    assert "container_name" not in worker, "ray-worker has a container_name: `--scale ray-worker=N` would clash"
    fixed = [host for host, _ in published_ports(worker) if host]
    assert not fixed, f"ray-worker publishes host ports {fixed}: a second replica could not bind them"
    assert worker.get("restart") in ("always", "unless-stopped", "on-failure"), (
        f"ray-worker needs a restart policy to rejoin a restarted head, got {worker.get('restart')}")


def test_ray_nodes_have_shared_memory_and_the_same_ray() -> None:
    versions = {}
    for name in RAY_SERVICES:
        spec = service(name)
        assert spec.get("shm_size"), f"{name} has no shm_size: Ray's object store lives in /dev/shm"
        versions[name] = (spec["build"].get("args") or {}).get("RAY_VERSION")
    assert len(set(versions.values())) == 1 and None not in versions.values(), (
        f"the Ray nodes must be built with one RAY_VERSION (Ray refuses mismatched nodes), got {versions}")


@pytest.mark.parametrize("name", ["migrate", *RAY_SERVICES])
def test_the_database_url_points_at_postgres_with_credentials_from_the_env_file(name: str) -> None:
    raw = (COMPOSE["services"][name].get("environment") or {}).get(DATABASE_ENV, "")
    assert raw, f"service {name} does not set {DATABASE_ENV}: it would fall back to a SQLite file in the container"
    assert raw.startswith("postgresql+psycopg://") and "@postgres:5432/" in raw, (
        f"service {name}: {DATABASE_ENV} must be postgresql+psycopg://USER:PASSWORD@postgres:5432/DB, got {raw}")
    names = {item.name for item in interpolations(raw)}
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= names, (
        f"service {name}: {DATABASE_ENV} must take user, password and database from the env file, uses {names}")


# --- interpolation and secrets ------------------------------------------------------------------------------------


def test_every_interpolated_variable_is_documented_in_env_example() -> None:
    documented = set(dotenv_names(ENV_EXAMPLE))
    for path, value in string_values(COMPOSE):
        for item in interpolations(value):
            assert item.name in documented, f"docker-compose.yml {path} uses ${{{item.name}}}, absent from .env.example"


def test_a_missing_password_stops_compose_with_a_message() -> None:
    environment = {**example_environment(), "POSTGRES_PASSWORD": ""}
    with pytest.raises(DeployFileError, match="POSTGRES_PASSWORD"):
        interpolate(COMPOSE, environment)


def test_no_password_is_written_into_the_compose_file_or_the_dockerfiles() -> None:
    example_password = dotenv_names(ENV_EXAMPLE).get("POSTGRES_PASSWORD", "")
    url_password = re.compile(r"://[^/\s:@]+:(?P<password>[^@\s]+)@")
    for path, value in string_values(COMPOSE):
        leaf = path.rsplit(".", 1)[-1]
        if re.search(r"PASSWORD|SECRET|TOKEN|API_KEY", leaf):
            assert value.startswith("${") and value.endswith("}"), f"docker-compose.yml {path} is a literal: {value}"
        for match in url_password.finditer(value):
            assert match["password"].startswith("${"), f"docker-compose.yml {path} has a literal password in a URL"
    for dockerfile in dockerfiles():
        # instructions only: a comment may mention the variables it explains
        text = "\n".join(instruction.arguments for instruction in parse_dockerfile(dockerfile))
        assert not url_password.search(text), f"{dockerfile} holds a URL with a password"
        assert not re.search(r"PASSWORD|API_KEY|HF_TOKEN|DEMO_SEARCH_DB", text), (
            f"{dockerfile} sets a credential or the database URL: they must come at run time, never from the image")
        assert not example_password or example_password not in text, f"{dockerfile} holds .env.example's password"


# --- Dockerfiles --------------------------------------------------------------------------------------------------


def test_every_build_context_and_dockerfile_exists() -> None:
    assert builds(), "no service is built from this repository"
    for name, context, dockerfile in builds():
        assert context.is_dir(), f"service {name}: build context {context} does not exist"
        assert dockerfile.is_file(), f"service {name}: Dockerfile {dockerfile} does not exist"


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.name)
def test_dockerfile_parses_and_copies_what_exists_in_its_context(dockerfile: Path) -> None:
    instructions = parse_dockerfile(dockerfile)
    context = next(context for _, context, path in builds() if path == dockerfile)
    ignore = DockerIgnore.from_file(context / ".dockerignore")
    copies = [i for i in instructions if i.keyword in ("COPY", "ADD")]
    assert copies, f"{dockerfile} copies nothing of the repository"
    for instruction in copies:
        for source in copy_sources(instruction):
            where = f"{dockerfile.name}:{instruction.line}"
            assert (context / source).exists(), f"{where} copies {source}, absent from the build context {context}"
            assert not ignore.excludes(source), f"{where} copies {source}, which .dockerignore leaves out"


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.name)
def test_dockerfile_installs_this_project_with_extras_it_declares(dockerfile: Path) -> None:
    declared = set(PYPROJECT["project"].get("optional-dependencies", {}))
    installs = [(i, extras) for i in parse_dockerfile(dockerfile) for extras in pip_extras(i)]
    assert installs, f'{dockerfile} never runs pip install ".[extras]" of this project'
    for instruction, extras in installs:
        unknown = extras - declared
        assert not unknown, (f"{dockerfile.name}:{instruction.line} installs extras {sorted(unknown)}, not in "
                             f"pyproject.toml [project.optional-dependencies] ({sorted(declared)})")
    wanted = {"docker/cpu.Dockerfile": {"postgres"}, "docker/gpu.Dockerfile": {"gpu", "postgres"}}
    relative = dockerfile.relative_to(REPO).as_posix()
    if relative in wanted:
        assert wanted[relative] <= set().union(*(extras for _, extras in installs)), (
            f"{relative} must install the extras {sorted(wanted[relative])}")


def test_the_gpu_image_starts_from_an_nvidia_cuda_runtime_image() -> None:
    worker_dockerfile = next(path for name, _, path in builds() if name == "ray-worker")
    bases = [i.arguments for i in parse_dockerfile(worker_dockerfile) if i.keyword == "FROM"]
    assert any(base.startswith("nvidia/cuda:") and "runtime" in base for base in bases), (
        f"{worker_dockerfile.name} must start from an nvidia/cuda runtime image, starts from {bases}")


# --- the readers catch what they are meant to catch ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "problem"), [
    ("RUN echo hi\nFROM python:3.11\n", "must be FROM"),
    ("FROM python:3.11\nRUNN echo hi\n", "unknown instruction"),
    ("FROM python:3.11\nRUN echo \\\n", "never ends"),
])
def test_the_dockerfile_reader_rejects_broken_files(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    with pytest.raises(DeployFileError, match=problem):
        parse_dockerfile(path)


def test_the_dockerfile_reader_joins_continuations_and_reads_copy_and_extras(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text('ARG V=1\nFROM base\n# c\nCOPY --chown=a:a one two \\\n  # inside\n  /dst/\n'
                    'RUN pip install "ray==${V}" \\\n    ".[gpu, postgres]" && pip install --no-deps .\n')
    arg, _, copy, run = parse_dockerfile(path)
    assert (arg.keyword, copy.keyword, copy.line) == ("ARG", "COPY", 4)
    assert copy_sources(copy) == ["one", "two"]
    assert pip_extras(run) == [{"gpu", "postgres"}]
    assert copy_sources(Instruction("COPY", "--from=build /a /b", 1)) == []


def test_interpolation_reading_follows_compose() -> None:
    assert [i.name for i in interpolations("$$HOME ${A:-x} $B ${C:?needed}")] == ["A", "B", "C"]
    assert interpolate({"k": ["$${X}", "${A:-d}", "${B-d}"]}, {"B": ""}) == {"k": ["${X}", "d", ""]}
    with pytest.raises(DeployFileError, match="invalid interpolation"):
        interpolations("cost: 5$ each")


def test_the_dockerignore_reader_anchors_patterns_at_the_context_root(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("build\n**/*.db\n.venv*\n!keep.db\n")
    ignore = DockerIgnore.from_file(tmp_path / ".dockerignore")
    assert ignore.excludes("build/lib/x.py") and ignore.excludes("a/b/c.db") and ignore.excludes(".venv-vllm")
    assert not ignore.excludes("workers/build") and not ignore.excludes("keep.db")
    assert not ignore.excludes("pyproject.toml")


def test_the_command_check_rejects_unknown_subcommands_and_options() -> None:
    with pytest.raises(DeployFileError, match="no subcommand 'downgrade'"):
        resolve_command(root_command("demo-search"), ["db", "downgrade"])
    with pytest.raises(DeployFileError, match="No such option"):
        resolve_command(root_command("ray"), ["start", "--head", "--no-such-option"])
    with pytest.raises(DeployFileError, match="no installed distribution"):
        console_script("no-such-console-script-here")


# --- Docker itself, where it is installed -------------------------------------------------------------------------


def compose_client() -> list[str] | None:
    """``docker compose`` when a Docker client with a working compose plugin is installed."""
    if shutil.which("docker") is None:
        return None
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    return ["docker", "compose"] if probe.returncode == 0 else None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    client = compose_client()
    if client is None:
        pytest.skip("no Docker client with the compose plugin here (`docker compose version` fails or docker is "
                    "not installed); the checks above parse the files without it")
    project = tmp_path / "project"
    shutil.copytree(REPO / "docker", project / "docker")
    shutil.copy(REPO / "docker-compose.yml", project / "docker-compose.yml")
    (project / ".env").write_text(
        ENV_EXAMPLE.read_text().replace("POSTGRES_PASSWORD=\n", f"POSTGRES_PASSWORD={TEST_PASSWORD}\n")
        .replace("RAY_AUTH_TOKEN=\n", f"RAY_AUTH_TOKEN={TEST_RAY_TOKEN}\n"))
    result = subprocess.run([*client, "config", "--quiet"], cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"`docker compose config` rejects docker-compose.yml:\n{result.stderr}"
