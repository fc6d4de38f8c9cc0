"""Reference data the generator draws from: companies, cost types, phase codes, names."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CostType:
    code: str
    description: str
    base_type: str  # Procore line item type base type
    tran_type: str  # Spectrum transaction type code usually seen on it
    uom: str
    is_labor: bool = False


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    permission: str  # "standard" | "read_only"


@dataclass(frozen=True)
class Company:
    code: str
    name: str
    procore_company_id: int
    cost_types: tuple[CostType, ...]
    clients: tuple[Client, ...]

    @property
    def cost_type_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.cost_types)


# API clients: as in Procore, one app (client id and secret) is installed in both companies.
# Each company has the 'standard' demo app and a 'read_only' viewer app (-> no_permission), and an 'admin' app
# (the preflight's link action: updating a project's origin_id needs Admin, an emulator guess).
CLIENTS_01 = (
    Client("demo-client", "demo-secret", "standard"),
    Client("viewer-client", "viewer-secret", "read_only"),
    Client("admin-client", "admin-secret", "admin"),
)
CLIENTS_02 = CLIENTS_01

COMPANIES: tuple[Company, ...] = (
    Company(
        "01", "Acme Builders", 1001,
        (
            CostType("L", "Labor", "labor", "PR", "HR", True),
            CostType("M", "Material", "materials", "AP", "EA"),
            CostType("S", "Subcontract", "commitment", "AP", "LS"),
            CostType("E", "Equipment", "equipment", "EQ", "HR"),
            CostType("O", "Other", "other", "JC", "LS"),
        ),
        CLIENTS_01,
    ),
    Company(
        "02", "Northwind Constructors", 1002,
        (
            CostType("1", "Labour & Burden", "labor", "PR", "HR", True),
            CostType("2", "Materials & Supplies", "materials", "AP", "EA"),
            CostType("3", "Subcontractors", "commitment", "AP", "LS"),
            CostType("4", "Equipment Rental", "equipment", "EQ", "DAY"),
        ),
        CLIENTS_02,
    ),
)
COMPANIES_BY_CODE = {c.code: c for c in COMPANIES}

# Old 16-division MasterFormat-style phases: (phase code, description).
PHASES: tuple[tuple[str, str], ...] = (
    ("01-100", "General Conditions"),
    ("01-200", "Supervision"),
    ("01-310", "Project Management"),
    ("01-500", "Temporary Facilities"),
    ("01-700", "Closeout & Cleaning"),
    ("02-200", "Site Clearing"),
    ("02-300", "Earthwork"),
    ("02-500", "Paving & Surfacing"),
    ("02-800", "Landscaping"),
    ("03-100", "Concrete Forming"),
    ("03-200", "Reinforcing Steel"),
    ("03-310", "Cast-in-Place Concrete"),
    ("03-400", "Precast Concrete"),
    ("04-200", "Unit Masonry"),
    ("05-100", "Structural Steel"),
    ("05-500", "Metal Fabrications"),
    ("06-100", "Rough Carpentry"),
    ("06-200", "Finish Carpentry"),
    ("07-200", "Insulation"),
    ("07-500", "Membrane Roofing"),
    ("07-900", "Joint Sealants"),
    ("08-100", "Metal Doors & Frames"),
    ("08-800", "Glazing"),
    ("09-200", "Gypsum Board"),
    ("09-300", "Tile"),
    ("09-600", "Flooring"),
    ("09-900", "Painting"),
    ("10-800", "Toilet Accessories"),
    ("11-400", "Food Service Equipment"),
    ("12-500", "Window Treatments"),
    ("14-200", "Elevators"),
    ("15-100", "Plumbing"),
    ("15-300", "Fire Protection"),
    ("15-500", "HVAC"),
    ("15-900", "Controls"),
    ("16-100", "Electrical Service"),
    ("16-400", "Service & Distribution"),
    ("16-500", "Lighting"),
    ("16-700", "Communications"),
)
PHASE_NAMES = dict(PHASES)

DIVISIONS: tuple[str, ...] = (
    "General Requirements", "Site Construction", "Concrete", "Masonry", "Metals", "Wood & Plastics",
    "Thermal & Moisture", "Doors & Windows", "Finishes", "Specialties", "Equipment", "Furnishings",
    "Special Construction", "Conveying Systems", "Mechanical", "Electrical",
)


def scale_phase(n: int) -> tuple[str, str]:
    """The n-th phase of the procedural catalogue used by the scale profile (16 divisions x 999)."""
    div, sub = divmod(n, 999)
    if div >= len(DIVISIONS):
        raise ValueError("phase catalogue exhausted")
    return f"{div + 1:02d}-{sub + 1:03d}", f"{DIVISIONS[div]} {sub + 1:03d}"


SCALE_PHASE_COUNT = len(DIVISIONS) * 999

PROJECT_WORDS = (
    "Riverside", "Harbor", "Lakeside", "Summit", "Cedar", "Granite", "Maple", "Beacon", "Willow",
    "Northgate", "Pioneer", "Canyon", "Meadow", "Union", "Bayview", "Stonebridge",
)
PROJECT_KINDS = (
    "Clinic", "Library", "School", "Warehouse", "Tower", "Plaza", "Depot", "Lofts", "Arena",
    "Station", "Annex", "Center", "Hall", "Works",
)
