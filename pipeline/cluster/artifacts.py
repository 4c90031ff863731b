"""The clusters' Java parts, fetched once into the cache: Flink's and Spark's jars from PyPI, Beam's
job servers from Maven Central.

Nothing here is committed or baked into the repository: a fresh machine fetches what it needs on
the first `penguins cluster up`, and later ones find it in the cache. Each folder is complete
only once its `.complete` marker exists, so an interrupted download is fetched again rather
than half used.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import urllib.request
from pathlib import Path

from pipeline.cluster.settings import ClusterSettings

PYPI_SIMPLE = "https://pypi.org/simple/{package}/"
# The PyPI package that carries each engine's jars, and the folders of its sdist's deps/ to take.
DISTRIBUTIONS = {
    "flink": ("apache-flink-libraries", ("lib", "bin")),
    "spark": ("pyspark", ("jars",)),
}
COMPLETE = ".complete"


class ArtifactError(Exception):
    """A jar or package could not be fetched; the message names it and where it was looked for."""


def _sdist(cache: Path, package: str, version: str) -> Path:
    """The package's source archive from PyPI, checked against the digest PyPI publishes.

    Found through PyPI's simple index in its JSON form (PEP 691), the API mirrors and proxies
    serve too; the older /pypi/NAME/VERSION/json one is not served by every proxy.
    """
    target = cache / "pypi" / f"{package}-{version}.tar.gz"
    if target.is_file():
        return target
    index = PYPI_SIMPLE.format(package=package)
    wanted = f"{package}-{version}.tar.gz"
    try:
        request = urllib.request.Request(index, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            files = json.load(response)["files"]
        found = [entry for entry in files if entry["filename"].lower().replace("_", "-") == wanted]
        if not found:
            raise ArtifactError(f"PyPI ({index}) lists no {wanted}")
        sdist = found[0]
        partial = target.with_suffix(".part")
        partial.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with urllib.request.urlopen(sdist["url"], timeout=300) as response, partial.open("wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except (OSError, ValueError, KeyError) as error:
        raise ArtifactError(f"could not fetch {wanted} from PyPI ({index}): {error}") from error
    if digest.hexdigest() != sdist["hashes"]["sha256"]:
        partial.unlink()
        raise ArtifactError(f"{sdist['url']}: the download's sha256 differs from PyPI's; try again")
    partial.rename(target)
    return target


def distribution_home(settings: ClusterSettings, engine: str) -> Path:
    """The engine's home folder (Flink's lib/ and bin/, Spark's jars/), unpacked from its PyPI sdist."""
    version = settings.engines[engine].version
    home = settings.cache / f"{engine}-{version}"
    if (home / COMPLETE).exists():
        return home
    package, folders = DISTRIBUTIONS[engine]
    archive = _sdist(settings.cache, package, version)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.split("/")
            if (
                member.isfile()
                and len(parts) == 4
                and parts[1] == "deps"
                and parts[2] in folders
                and parts[3].endswith(".jar")
            ):
                member.name = f"{parts[2]}/{parts[3]}"
                tar.extract(member, home)
    if not all(any((home / folder).glob("*.jar")) for folder in folders):
        raise ArtifactError(f"{archive} does not hold jars in each of deps/{{{','.join(folders)}}}")
    (home / COMPLETE).touch()
    return home


def _dependency(coordinates: str) -> str:
    group, name, version = coordinates.split(":")
    coordinates = f"<groupId>{group}</groupId><artifactId>{name}</artifactId><version>{version}</version>"
    return f"<dependency>{coordinates}</dependency>"


def job_server_jars(settings: ClusterSettings, engine: str) -> Path:
    """The folder of Beam's job server for the engine: its runner artifact and dependencies, by Maven.

    Fetched again whenever the artifacts asked for change (the marker holds the pom they made).
    """
    runner = f"{settings.engines[engine].runner_artifact}:{settings.beam_version}"
    artifacts = [runner, *settings.engines[engine].options.get("job_server_extra_artifacts", "").split()]
    folder = settings.job_server_dir(engine)
    lib = folder / "lib"
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        f"  <groupId>penguins.cluster</groupId><artifactId>{folder.name}</artifactId><version>1</version>\n"
        f"  <dependencies>{''.join(_dependency(artifact) for artifact in artifacts)}</dependencies>\n"
        "</project>\n"
    )
    marker = folder / COMPLETE
    if marker.exists() and marker.read_text() == pom:
        return lib
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "pom.xml").write_text(pom)
    if shutil.which("mvn") is None:
        raise ArtifactError(f"Maven is needed to fetch {runner}: apt-get install maven")
    command = ["mvn", "-q", "-B", "-f", str(folder / "pom.xml"), "dependency:copy-dependencies",
               f"-DoutputDirectory={lib}"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        errors = [line for line in result.stdout.splitlines() if "ERROR" in line][:1]
        raise ArtifactError(
            f"Maven could not fetch {', '.join(artifacts)} and their dependencies from Maven Central: "
            f"{errors[0] if errors else result.stderr.strip()[-300:]}"
        )
    marker.write_text(pom)
    return lib
