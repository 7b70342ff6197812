"""A small world for synthetic events: cities, networks (ASNs) and great-circle distances.

Cities carry coordinates, an ISO 3166 country code and a fixed UTC offset (standard time;
daylight saving is ignored). Networks are well-known operators with their real AS numbers,
a kind (``residential``, ``mobile`` or ``hosting``) and a few /16 prefixes used to draw
addresses. The prefixes are representative, not a geolocation database: nothing here should be
used to locate real addresses.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EARTH_RADIUS_KM = 6371.0088


class City(NamedTuple):
    """A city an event can come from."""

    name: str
    country: str
    lat: float
    lon: float
    utc_offset: float


class Network(NamedTuple):
    """An autonomous system with the country it serves and address prefixes to draw from."""

    asn: int
    name: str
    country: str
    kind: str
    prefixes: tuple[tuple[int, int], ...]


CITIES: tuple[City, ...] = (
    City("New York", "US", 40.7128, -74.0060, -5),
    City("San Francisco", "US", 37.7749, -122.4194, -8),
    City("Chicago", "US", 41.8781, -87.6298, -6),
    City("Austin", "US", 30.2672, -97.7431, -6),
    City("Seattle", "US", 47.6062, -122.3321, -8),
    City("Boston", "US", 42.3601, -71.0589, -5),
    City("Toronto", "CA", 43.6532, -79.3832, -5),
    City("Vancouver", "CA", 49.2827, -123.1207, -8),
    City("Mexico City", "MX", 19.4326, -99.1332, -6),
    City("Sao Paulo", "BR", -23.5505, -46.6333, -3),
    City("Buenos Aires", "AR", -34.6037, -58.3816, -3),
    City("London", "GB", 51.5074, -0.1278, 0),
    City("Manchester", "GB", 53.4808, -2.2426, 0),
    City("Dublin", "IE", 53.3498, -6.2603, 0),
    City("Lisbon", "PT", 38.7223, -9.1393, 0),
    City("Paris", "FR", 48.8566, 2.3522, 1),
    City("Lyon", "FR", 45.7640, 4.8357, 1),
    City("Berlin", "DE", 52.5200, 13.4050, 1),
    City("Munich", "DE", 48.1351, 11.5820, 1),
    City("Frankfurt", "DE", 50.1109, 8.6821, 1),
    City("Amsterdam", "NL", 52.3676, 4.9041, 1),
    City("Madrid", "ES", 40.4168, -3.7038, 1),
    City("Milan", "IT", 45.4642, 9.1900, 1),
    City("Warsaw", "PL", 52.2297, 21.0122, 1),
    City("Krakow", "PL", 50.0647, 19.9450, 1),
    City("Stockholm", "SE", 59.3293, 18.0686, 1),
    City("Zurich", "CH", 47.3769, 8.5417, 1),
    City("Lagos", "NG", 6.5244, 3.3792, 1),
    City("Bucharest", "RO", 44.4268, 26.1025, 2),
    City("Kyiv", "UA", 50.4501, 30.5234, 2),
    City("Johannesburg", "ZA", -26.2041, 28.0473, 2),
    City("Moscow", "RU", 55.7558, 37.6173, 3),
    City("Istanbul", "TR", 41.0082, 28.9784, 3),
    City("Dubai", "AE", 25.2048, 55.2708, 4),
    City("Bangalore", "IN", 12.9716, 77.5946, 5.5),
    City("Mumbai", "IN", 19.0760, 72.8777, 5.5),
    City("Hanoi", "VN", 21.0278, 105.8342, 7),
    City("Jakarta", "ID", -6.2088, 106.8456, 7),
    City("Singapore", "SG", 1.3521, 103.8198, 8),
    City("Shanghai", "CN", 31.2304, 121.4737, 8),
    City("Beijing", "CN", 39.9042, 116.4074, 8),
    City("Hong Kong", "HK", 22.3193, 114.1694, 8),
    City("Manila", "PH", 14.5995, 120.9842, 8),
    City("Tokyo", "JP", 35.6762, 139.6503, 9),
    City("Seoul", "KR", 37.5665, 126.9780, 9),
    City("Sydney", "AU", -33.8688, 151.2093, 10),
)

NETWORKS: tuple[Network, ...] = (
    Network(7922, "Comcast", "US", "residential", ((73, 15), (24, 30), (98, 207))),
    Network(7018, "AT&T", "US", "residential", ((12, 75), (99, 41))),
    Network(20115, "Charter", "US", "residential", ((47, 148), (71, 85))),
    Network(22394, "Verizon Wireless", "US", "mobile", ((174, 204), (174, 226))),
    Network(21928, "T-Mobile USA", "US", "mobile", ((172, 56), (172, 58))),
    Network(14061, "DigitalOcean", "US", "hosting", ((159, 65), (167, 99), (138, 197))),
    Network(20473, "Vultr", "US", "hosting", ((45, 76), (149, 28))),
    Network(812, "Rogers", "CA", "residential", ((99, 224), (174, 112))),
    Network(577, "Bell Canada", "CA", "mobile", ((70, 48), (142, 114))),
    Network(8151, "Telmex", "MX", "residential", ((187, 189), (189, 203))),
    Network(28573, "Claro NET", "BR", "residential", ((177, 36), (179, 216))),
    Network(26599, "Telefonica Brasil", "BR", "mobile", ((187, 74), (191, 246))),
    Network(7303, "Telecom Argentina", "AR", "residential", ((181, 44), (190, 55))),
    Network(2856, "BT", "GB", "residential", ((81, 151), (86, 134))),
    Network(5089, "Virgin Media", "GB", "residential", ((82, 24), (86, 26))),
    Network(25135, "Vodafone UK", "GB", "mobile", ((90, 196), (92, 40))),
    Network(5466, "Eir", "IE", "residential", ((86, 40), (159, 134))),
    Network(3243, "MEO", "PT", "residential", ((85, 240), (188, 80))),
    Network(3215, "Orange France", "FR", "residential", ((90, 3), (86, 217))),
    Network(12322, "Free", "FR", "residential", ((82, 64), (88, 160))),
    Network(51207, "Free Mobile", "FR", "mobile", ((37, 165), (37, 166))),
    Network(16276, "OVH", "FR", "hosting", ((51, 75), (51, 83), (145, 239))),
    Network(3320, "Deutsche Telekom", "DE", "residential", ((79, 200), (87, 150), (91, 52))),
    Network(3209, "Vodafone Germany", "DE", "residential", ((88, 64), (94, 134))),
    Network(6805, "Telefonica Germany", "DE", "mobile", ((77, 10), (82, 113))),
    Network(24940, "Hetzner", "DE", "hosting", ((88, 198), (116, 202), (168, 119))),
    Network(1136, "KPN", "NL", "residential", ((77, 160), (145, 53))),
    Network(33915, "Ziggo", "NL", "residential", ((84, 24), (89, 98))),
    Network(60781, "LeaseWeb", "NL", "hosting", ((85, 17), (212, 32))),
    Network(3352, "Telefonica Spain", "ES", "residential", ((80, 58), (83, 44))),
    Network(3269, "Telecom Italia", "IT", "residential", ((79, 24), (93, 45))),
    Network(5617, "Orange Polska", "PL", "residential", ((83, 24), (89, 76))),
    Network(12741, "Netia", "PL", "mobile", ((31, 61), (83, 238))),
    Network(3301, "Telia", "SE", "residential", ((81, 224), (90, 224))),
    Network(3303, "Swisscom", "CH", "residential", ((85, 1), (178, 197))),
    Network(29465, "MTN Nigeria", "NG", "mobile", ((102, 89), (105, 112))),
    Network(8708, "RCS & RDS", "RO", "residential", ((86, 120), (89, 136))),
    Network(9009, "M247", "RO", "hosting", ((37, 120), (185, 156))),
    Network(15895, "Kyivstar", "UA", "residential", ((46, 211), (176, 36))),
    Network(29975, "Vodacom", "ZA", "mobile", ((41, 13), (105, 224))),
    Network(12389, "Rostelecom", "RU", "residential", ((95, 24), (178, 64))),
    Network(49505, "Selectel", "RU", "hosting", ((31, 184), (92, 53))),
    Network(9121, "Turk Telekom", "TR", "residential", ((78, 160), (88, 230))),
    Network(5384, "Etisalat", "AE", "residential", ((86, 96), (94, 200))),
    Network(9498, "Bharti Airtel", "IN", "residential", ((122, 161), (182, 64))),
    Network(55836, "Reliance Jio", "IN", "mobile", ((49, 36), (157, 32))),
    Network(7552, "Viettel", "VN", "residential", ((27, 72), (116, 96))),
    Network(7713, "Telkom Indonesia", "ID", "residential", ((36, 68), (110, 136))),
    Network(7473, "Singtel", "SG", "residential", ((118, 200), (220, 255))),
    Network(4134, "China Telecom", "CN", "residential", ((58, 32), (113, 108))),
    Network(37963, "Alibaba Cloud", "CN", "hosting", ((47, 92), (47, 100))),
    Network(4760, "HKT", "HK", "residential", ((112, 118), (218, 102))),
    Network(9299, "PLDT", "PH", "residential", ((112, 198), (119, 92))),
    Network(4775, "Globe Telecom", "PH", "mobile", ((112, 200), (124, 104))),
    Network(4713, "NTT OCN", "JP", "residential", ((114, 148), (153, 156))),
    Network(2516, "KDDI", "JP", "mobile", ((106, 128), (111, 239))),
    Network(4766, "Korea Telecom", "KR", "residential", ((121, 134), (175, 223))),
    Network(1221, "Telstra", "AU", "residential", ((101, 160), (120, 144))),
    Network(4804, "Optus", "AU", "mobile", ((49, 176), (110, 174))),
)

CITY_LAT = np.array([c.lat for c in CITIES])
CITY_LON = np.array([c.lon for c in CITIES])
CITY_OFFSET = np.array([c.utc_offset for c in CITIES])
CITY_COUNTRY = np.array([c.country for c in CITIES], dtype=object)
NETWORK_ASN = np.array([n.asn for n in NETWORKS], dtype=np.uint32)
NETWORK_COUNTRY = np.array([n.country for n in NETWORKS], dtype=object)
NETWORK_KIND = np.array([n.kind for n in NETWORKS], dtype=object)
_PREFIX_COUNT = np.array([len(n.prefixes) for n in NETWORKS])
_PREFIXES = np.array([[n.prefixes[i % len(n.prefixes)] for i in range(3)] for n in NETWORKS])


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in kilometres between points given in degrees.

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float or array_like
        Latitudes and longitudes in degrees; arrays broadcast against each other.

    Returns
    -------
    numpy.ndarray
        Distances in km (a 0-d array for scalar input).
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def cities_in(country: str) -> np.ndarray:
    """Return indices into :data:`CITIES` of the cities in ``country`` (ISO alpha-2)."""
    return np.flatnonzero(CITY_COUNTRY == country)


def networks_in(country: str, kind: str | None = None) -> np.ndarray:
    """Return indices into :data:`NETWORKS` serving ``country``, optionally of a ``kind``."""
    mask = NETWORK_COUNTRY == country
    if kind is not None:
        mask &= NETWORK_KIND == kind
    return np.flatnonzero(mask)


def sample_ips(rng: np.random.Generator, networks: np.ndarray) -> np.ndarray:
    """Draw one IPv4 address inside a prefix of each given network.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    networks : numpy.ndarray of int
        Indices into :data:`NETWORKS`, one per address wanted.

    Returns
    -------
    pyarrow.StringArray
        Dotted-quad addresses, host part never 0 or 255.
    """
    networks = np.asarray(networks, dtype=np.int64)
    n = len(networks)
    which = (rng.random(n) * _PREFIX_COUNT[networks]).astype(np.int64)
    octets = [
        _PREFIXES[networks, which, 0],
        _PREFIXES[networks, which, 1],
        rng.integers(0, 256, n),
        rng.integers(1, 255, n),
    ]
    text = [pa.array(o).cast(pa.string()) for o in octets]
    return pc.binary_join_element_wise(*text, ".")


def choose_per_group(rng: np.random.Generator, keys: np.ndarray, pools: dict) -> np.ndarray:
    """Draw one element of ``pools[key]`` for each key, vectorised per distinct key.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    keys : numpy.ndarray
        One key per draw.
    pools : dict
        Key to a non-empty 1-d array of candidates.

    Returns
    -------
    numpy.ndarray of int
        One candidate per key.
    """
    out = np.empty(len(keys), dtype=np.int64)
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        pool = np.asarray(pools[key])
        out[rows] = pool[rng.integers(0, len(pool), len(rows))]
    return out
