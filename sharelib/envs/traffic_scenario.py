r"""The files of LToS's *traffic* scenario for SUMO: the 6 x 6 grid and the Table 2 flows.

LToS (Yi et al. 2022, Sec. 5.3) runs traffic signal control on "a 6 x 6 grid network with 36
intersections" whose flows have the peak and off-peak periods of its Table 2. The authors' files
(CityFlow's ``roadnet_6_6.json`` and ``anon_6_6_small_2570_bi.json``, read constant by constant in
``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.3) fix the rest, and this module
rebuilds the same scenario with SUMO's own tools from our parameters:

- **Network** (:func:`build_network`): ``netgenerate --grid`` with ``rows x cols`` signalised
  junctions 100 m apart, a 100-m road attached to every boundary junction (CityFlow's 24 virtual
  boundary nodes), three 4-m lanes per direction at 11.111 m/s, no U-turns. ``netconvert`` then
  reads our connection file, which gives every entering road CityFlow's dedicated lanes: SUMO lane 0
  (the rightmost) turns right only, lane 1 goes straight only, lane 2 (the leftmost) turns left
  only, each into the same lane index of the road it enters. The signal programs netconvert writes
  are not used: :mod:`sharelib.envs.traffic_sim` sets the four phases itself.
- **Flows** (:func:`write_routes`): every vehicle drives one of the ``2 (rows + cols)`` straight
  boundary-to-boundary routes (7 roads on the 6 x 6 grid), chosen uniformly at random with the
  scenario's ``flow_seed``; departures are deterministic, ``rate`` vehicles per second in each
  period of :data:`TABLE2_PERIODS` (1, 1/4, 1/3, 2, 1/5 and 1/2 veh/s in the six 600-s periods:
  600 + 150 + 200 + 1200 + 120 + 300 = 2570 vehicles). Each vehicle gets its own SUMO ``vType``
  with the data file's per-vehicle parameters drawn uniformly: maximum speed in [8, 16] m/s,
  acceleration in [1.5, 2.5] m/s^2, deceleration in [3, 6] m/s^2; length 5 m, minGap 2.5 m and
  headway (``tau``) 2 s as in the data file. The route file is written by our code (no router is
  needed: every route is a fixed straight line).

The files of the default scenario ship gzipped in ``sharelib/envs/data/traffic/`` (SUMO reads
``.xml.gz`` directly; about 0.1 MB together), so the environment runs without calling the SUMO tools.
Any other parameters are generated on first use into a cache folder (``$SHARELIB_CACHE_DIR``, else
``$XDG_CACHE_HOME/sharelib`` or ``~/.cache/sharelib``, subfolder ``traffic/<hash>``), named by a hash
of the parameters and the SUMO version. Generation is deterministic: the same parameters give the
same files apart from the "generated on" comment SUMO writes at the top (a test regenerates the
shipped files and compares them).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..experiments import check_float, check_int

__all__ = ["TrafficScenario", "TABLE2_PERIODS", "sumo_home", "sumo_binary", "scenario_files",
           "build_network", "write_routes", "node_id", "grid_routes"]

#: LToS Table 2 (rates reconstructed from the data file, notes 1.3): (start s, end s, vehicles/s).
TABLE2_PERIODS = ((0, 600, 1.0), (600, 1200, 0.25), (1200, 1800, 1 / 3),
                  (1800, 2400, 2.0), (2400, 3000, 0.2), (3000, 3600, 0.5))

FORMAT = 2  # bump when the generated files change for the same parameters (cache key)
DATA_DIR = Path(__file__).with_name("data") / "traffic"


def sumo_home() -> str:
    """SUMO's home folder; sets ``SUMO_HOME`` from the ``eclipse-sumo`` package when it is unset.

    Raises ImportError with the install hint when SUMO is not installed.
    """
    home = os.environ.get("SUMO_HOME")
    if home and Path(home, "bin").is_dir():
        return home
    try:
        import sumo  # the eclipse-sumo wheel
    except ImportError as exc:
        raise ImportError("the traffic environment needs SUMO: pip install 'sharelib[traffic]' "
                          "(eclipse-sumo and libsumo from PyPI)") from exc
    os.environ["SUMO_HOME"] = sumo.SUMO_HOME
    return sumo.SUMO_HOME


def sumo_binary(name: str) -> str:
    """Path of one of SUMO's programs (``sumo``, ``netgenerate``, ``netconvert``, ...)."""
    path = Path(sumo_home(), "bin", name)
    if not path.exists():
        raise FileNotFoundError(f"SUMO program {name!r} not found in {path.parent}")
    return str(path)


def sumo_version() -> str:
    out = subprocess.run([sumo_binary("sumo"), "--version"], capture_output=True, text=True,
                         check=True).stdout
    return out.splitlines()[0].strip()


@dataclass(frozen=True)
class TrafficScenario:
    """Parameters of the grid and its flows (defaults: LToS's 6 x 6 scenario, notes 1.3).

    Parameters
    ----------
    rows, cols : int
        Signalised junctions per column and per row (6 x 6: 36 agents), each >= 1.
    road_length : float
        Length of every road, between junctions and to the boundary (100 m).
    speed_limit : float
        Lane speed limit in m/s (11.111, i.e. 40 km/h).
    periods : tuple of (start, end, rate)
        Arrival schedule: ``rate`` vehicles per second, evenly spaced, in ``[start, end)`` seconds
        (:data:`TABLE2_PERIODS`).
    flow_seed : int
        Seed of the route choices and vehicle parameters (one fixed flow file, as the paper's).
    max_speed, accel, decel : (low, high)
        Uniform ranges of the per-vehicle maximum speed (m/s), acceleration and deceleration
        (m/s^2).
    sigma : float
        Driver imperfection of SUMO's Krauss model in [0, 1] (SUMO's default 0.5; 0 is
        deterministic driving, closer to CityFlow's; see :mod:`sharelib.envs.traffic`).
    """

    rows: int = 6
    cols: int = 6
    road_length: float = 100.0
    speed_limit: float = 11.111
    periods: tuple = TABLE2_PERIODS
    flow_seed: int = 0
    max_speed: tuple = (8.0, 16.0)
    accel: tuple = (1.5, 2.5)
    decel: tuple = (3.0, 6.0)
    sigma: float = 0.5

    def __post_init__(self):
        check_int("rows", self.rows, min=1, max=26)  # netgenerate names columns A..Z
        check_int("cols", self.cols, min=1, max=26)
        check_float("road_length", self.road_length, min=20.0)
        check_float("speed_limit", self.speed_limit, min=0.0, min_inclusive=False)
        check_int("flow_seed", self.flow_seed, min=0)
        check_float("sigma", self.sigma, min=0.0, max=1.0)
        if not self.periods:
            raise ValueError("periods must be a non-empty tuple of (start, end, rate); got ()")
        end = 0.0
        for k, p in enumerate(self.periods):
            if len(p) != 3:
                raise ValueError(f"periods[{k}] must be (start, end, rate); got {p!r}")
            s = check_float(f"periods[{k}] start", p[0], min=end)
            e = check_float(f"periods[{k}] end", p[1], min=s, min_inclusive=False)
            check_float(f"periods[{k}] rate", p[2], min=0.0)
            end = e
        for name in ("max_speed", "accel", "decel"):
            lo, hi = getattr(self, name)
            check_float(f"{name}[0]", lo, min=0.0, min_inclusive=False)
            check_float(f"{name}[1]", hi, min=lo)

    @property
    def n_intersections(self) -> int:
        return self.rows * self.cols

    @property
    def n_vehicles(self) -> int:
        return len(departure_times(self.periods))

    def key(self) -> str:
        """A short hash of the parameters (the cache folder's name)."""
        text = json.dumps(dict(dataclasses.asdict(self), format=FORMAT), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


DEFAULT = TrafficScenario()


def node_id(col: int, y: int) -> str:
    """netgenerate's name of the junction in column ``col`` (x) and row ``y`` (0 = south)."""
    return f"{chr(ord('A') + col)}{y}"


def _fringe(side: str, k: int) -> str:
    return f"{side}{k}"  # netgenerate's attached boundary nodes: left/right{y}, bottom/top{col}


def grid_routes(rows: int, cols: int) -> list[list[str]]:
    """The ``2 (rows + cols)`` straight routes as lists of edge ids: each row eastbound then
    westbound, then each column northbound then southbound."""
    routes = []
    for y in range(rows):
        east = [_fringe("left", y)] + [node_id(c, y) for c in range(cols)] + [_fringe("right", y)]
        routes += [east, east[::-1]]
    for c in range(cols):
        north = [_fringe("bottom", c)] + [node_id(c, y) for y in range(rows)] + [_fringe("top", c)]
        routes += [north, north[::-1]]
    return [[a + b for a, b in zip(nodes[:-1], nodes[1:])] for nodes in routes]


def departure_times(periods) -> np.ndarray:
    """Deterministic departures: ``rate`` vehicles per second, evenly spaced, in each period."""
    times = []
    for start, end, rate in periods:
        n = int(round((end - start) * rate))
        times.extend(start + k / rate for k in range(n))
    return np.asarray(times, dtype=np.float64)


def _neighbours_by_direction(col, y, rows, cols):
    """Adjacent node of junction ``(col, y)`` to the north, east, south and west."""
    n = node_id(col, y + 1) if y + 1 < rows else _fringe("top", col)
    e = node_id(col + 1, y) if col + 1 < cols else _fringe("right", y)
    s = node_id(col, y - 1) if y > 0 else _fringe("bottom", col)
    w = node_id(col - 1, y) if col > 0 else _fringe("left", y)
    return {"N": n, "E": e, "S": s, "W": w}


# Seen from a vehicle arriving from side X (driving away from X): where it leaves for each turn.
# Right-hand traffic: coming from the west (heading east), right is south, left is north.
TURNS = {"W": {"r": "S", "s": "E", "l": "N"}, "E": {"r": "N", "s": "W", "l": "S"},
         "N": {"r": "W", "s": "S", "l": "E"}, "S": {"r": "E", "s": "N", "l": "W"}}
#: SUMO lane index of each movement on an entering road (0 = rightmost).
TURN_LANE = {"r": 0, "s": 1, "l": 2}


def _connections_xml(sc: TrafficScenario) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<connections>"]
    for y in range(sc.rows):
        for col in range(sc.cols):
            me = node_id(col, y)
            nb = _neighbours_by_direction(col, y, sc.rows, sc.cols)
            for side, turns in TURNS.items():
                for turn, out_side in turns.items():
                    lane = TURN_LANE[turn]
                    lines.append(f'    <connection from="{nb[side]}{me}" to="{me}{nb[out_side]}" '
                                 f'fromLane="{lane}" toLane="{lane}"/>')
    lines.append("</connections>")
    return "\n".join(lines) + "\n"


def build_network(sc: TrafficScenario, path: Path) -> Path:
    """Write the SUMO network of ``sc`` to ``path`` (``.net.xml`` or ``.net.xml.gz``) with
    netgenerate and netconvert (module doc)."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        # netgenerate writes nodes and edges as plain XML; netconvert builds the network from them
        # and our connections only (loading a built network would keep its guessed connections)
        plain, con = Path(tmp, "grid"), Path(tmp, "lanes.con.xml")
        subprocess.run([
            sumo_binary("netgenerate"), "--grid",
            "--grid.x-number", str(sc.cols), "--grid.y-number", str(sc.rows),
            "--grid.length", repr(sc.road_length), "--grid.attach-length", repr(sc.road_length),
            "--default.lanenumber", "3", "--default.lanewidth", "4",
            "--default.speed", repr(sc.speed_limit), "--default.junctions.type", "priority",
            "--no-turnarounds", "true", "--seed", "0", "--plain-output-prefix", str(plain),
            "--output-file", str(Path(tmp, "unused.net.xml")),
        ], check=True, capture_output=True, text=True)
        con.write_text(_connections_xml(sc))
        tls = ",".join(node_id(c, y) for y in range(sc.rows) for c in range(sc.cols))
        subprocess.run([
            sumo_binary("netconvert"), "--node-files", f"{plain}.nod.xml",
            "--edge-files", f"{plain}.edg.xml", "--connection-files", str(con),
            "--tls.set", tls, "--tls.default-type", "static", "--no-turnarounds", "true",
            "--output-file", str(path),
        ], check=True, capture_output=True, text=True)
    return path


def write_routes(sc: TrafficScenario, path: Path) -> Path:
    """Write the flows of ``sc`` (module doc) as a SUMO route file (gzipped if ``.gz``)."""
    path = Path(path)
    rng = np.random.default_rng(sc.flow_seed)
    routes = grid_routes(sc.rows, sc.cols)
    times = departure_times(sc.periods)
    n = len(times)
    choice = rng.integers(len(routes), size=n)
    vmax = rng.uniform(*sc.max_speed, size=n)
    acc = rng.uniform(*sc.accel, size=n)
    dec = rng.uniform(*sc.decel, size=n)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f"<!-- sharelib traffic flows: {json.dumps(dataclasses.asdict(sc))} -->", "<routes>"]
    for r, edges in enumerate(routes):
        out.append(f'    <route id="r{r}" edges="{" ".join(edges)}"/>')
    for k in range(n):
        # emergencyDecel >= decel (SUMO warns otherwise); the data file's maxNegAcc = usualNegAcc
        out.append(f'    <vType id="t{k}" accel="{acc[k]:.3f}" decel="{dec[k]:.3f}" '
                   f'emergencyDecel="{max(9.0, dec[k]):.3f}" maxSpeed="{vmax[k]:.3f}" length="5" '
                   f'minGap="2.5" tau="2" sigma="{sc.sigma:g}" speedFactor="1" speedDev="0" lcSpeedGain="0" lcKeepRight="0"/>')
        out.append(f'    <vehicle id="v{k}" type="t{k}" route="r{choice[k]}" depart="{times[k]:.2f}" '
                   f'departLane="best" departSpeed="max"/>')
    out.append("</routes>")
    data = ("\n".join(out) + "\n").encode()
    if path.suffix == ".gz":
        with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            gz.write(data)
    else:
        path.write_bytes(data)
    return path


def _cache_root() -> Path:
    if os.environ.get("SHARELIB_CACHE_DIR"):
        return Path(os.environ["SHARELIB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sharelib"


def scenario_files(sc: TrafficScenario = DEFAULT) -> tuple[Path, Path]:
    """``(net_file, route_file)`` of ``sc``: the shipped files for the default scenario, else files
    generated on first use into the cache folder (module doc)."""
    if sc == DEFAULT:
        net, rou = DATA_DIR / "grid6x6.net.xml.gz", DATA_DIR / "grid6x6.rou.xml.gz"
        if net.exists() and rou.exists():
            return net, rou
    folder = _cache_root() / "traffic" / hashlib.sha256(
        (sc.key() + sumo_version()).encode()).hexdigest()[:16]
    net, rou = folder / "grid.net.xml.gz", folder / "flows.rou.xml.gz"
    if not (net.exists() and rou.exists()):
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent))  # written aside, then moved: atomic
        build_network(sc, tmp / net.name)
        write_routes(sc, tmp / rou.name)
        try:
            tmp.rename(folder)
        except OSError:  # another process got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return net, rou
