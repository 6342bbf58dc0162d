"""Word lists behind the demo seed data: Northwind's product catalogue, names, places and case templates.

Northwind is the fictional outdoor retailer whose help centre ships in ``demo/knowledge``; the catalogue mixes
its own gear (Ember down jackets, Glacier sleeping bags) with the trail electronics it sells.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "BUSINESS_NAMES",
    "CARRIER_HUBS",
    "CASE_TEMPLATES",
    "CITIES",
    "COMMENTS_AGENT",
    "COMMENTS_CUSTOMER",
    "ELECTRONICS_FAMILIES",
    "FIRST_NAMES",
    "LAST_NAMES",
    "ORIGIN",
    "PRODUCTS",
    "RETURN_REASONS",
    "SEWN_FAMILIES",
    "CaseTemplate",
    "Product",
]


class Product(NamedTuple):
    """One catalogue item."""

    sku: str
    description: str
    price: Decimal


PRODUCTS: tuple[Product, ...] = (
    Product("NW-CHG-SOL20", "Northwind Sunpeak 20W Solar Charger", Decimal("79.00")),
    Product("NW-PWR-10K", "Northwind Trailcell 10,000 mAh Power Bank", Decimal("39.95")),
    Product("NW-PWR-20K", "Northwind Trailcell 20,000 mAh Power Bank", Decimal("59.95")),
    Product("NW-CBL-USBC2", "Northwind Braided USB-C Cable, 2 m", Decimal("14.50")),
    Product("NW-HL-400", "Northwind Beacon 400 Rechargeable Headlamp", Decimal("44.00")),
    Product("NW-LTN-CAMP", "Northwind Glow Smart Camp Lantern", Decimal("64.00")),
    Product("NW-GPS-WATCH", "Northwind Altus GPS Watch", Decimal("249.00")),
    Product("NW-EAR-SPORT", "Northwind Ridge Wireless Sport Earbuds", Decimal("89.00")),
    Product("NW-SPK-BT", "Northwind Canyon Waterproof Bluetooth Speaker", Decimal("69.00")),
    Product("NW-JKT-EMB650", "Ember 650-Fill Down Jacket", Decimal("229.00")),
    Product("NW-JKT-EMB800", "Ember 800-Fill Down Jacket", Decimal("319.00")),
    Product("NW-JKT-STORM", "Stormline 3L Waterproof Shell Jacket", Decimal("279.00")),
    Product("NW-VST-DOWN", "Ember Down Vest", Decimal("149.00")),
    Product("NW-SB-GLC20", "Glacier 20°F Down Sleeping Bag", Decimal("299.00")),
    Product("NW-SB-GLC40", "Glacier 40°F Down Sleeping Bag", Decimal("219.00")),
    Product("NW-TNT-2P", "Switchback 2-Person Backpacking Tent", Decimal("349.00")),
    Product("NW-PCK-45", "Crestline 45 L Backpack", Decimal("189.00")),
    Product("NW-PCK-DAY22", "Crestline 22 L Daypack", Decimal("89.00")),
    Product("NW-BT-HIKER", "Talus Waterproof Hiking Boot", Decimal("179.00")),
    Product("NW-SH-TRAIL", "Scree Trail Running Shoe", Decimal("139.00")),
    Product("NW-PAD-INS", "Drift Insulated Sleeping Pad", Decimal("129.00")),
    Product("NW-STV-MINI", "Kindle Mini Backpacking Stove", Decimal("54.00")),
    Product("NW-BTL-1L", "Northwind Insulated Bottle, 1 L", Decimal("34.00")),
    Product("NW-SCK-MERINO", "Merino Hiking Socks, 2-pack", Decimal("24.00")),
    Product("NW-POL-TREK", "Carbon Trekking Poles, pair", Decimal("119.00")),
)

FIRST_NAMES: tuple[str, ...] = tuple(
    "Maya Liam Sofia Noah Elena Mateo Grace Ethan Chloe Lucas Amara Oliver Hannah Diego Nora Samuel Leila Isaac "
    "Zoe Caleb Aisha Henry Mei Gabriel Ruby Owen Fatima Julian Clara Miles Ingrid Rafael Naomi Felix Yuki Tobias "
    "Esther Marcus Lena Adrian Sadie Kofi Iris Daniel Freya Omar Camila Victor Hazel Andre".split()
)

LAST_NAMES: tuple[str, ...] = tuple(
    "Bennett Okafor Lindqvist Romero Nakamura Fischer Castillo Whitaker Haddad Novak Sullivan Mendes Kowalski "
    "Abernathy Tanaka Moreau Delgado Hughes Patel Larsen Ibrahim Carver Rossi Brennan Yilmaz Ortega Keller "
    "Nguyen Harlow Duarte Schmidt Osei Quinn Varga Holloway Sandoval Eriksen Marsh Chen Whitfield".split()
)

BUSINESS_NAMES: tuple[str, ...] = (
    "Cedar Ridge Guiding Co.",
    "Blue Spruce Outdoor School",
    "Highline Search & Rescue",
    "Lakeshore Scouts Troop 41",
    "Summit Trail Crew LLC",
    "Pinecrest Adventure Camp",
    "Granite Peak Expeditions",
    "Riverbend Paddling Club",
)

CITIES: tuple[tuple[str, str], ...] = (
    ("San Francisco, CA", "415"),
    ("Denver, CO", "303"),
    ("Seattle, WA", "206"),
    ("Portland, OR", "503"),
    ("Boulder, CO", "720"),
    ("Salt Lake City, UT", "801"),
    ("Austin, TX", "512"),
    ("Minneapolis, MN", "612"),
    ("Burlington, VT", "802"),
    ("Asheville, NC", "828"),
    ("Boise, ID", "208"),
    ("Chicago, IL", "312"),
    ("Brooklyn, NY", "718"),
    ("Flagstaff, AZ", "928"),
    ("Missoula, MT", "406"),
    ("Madison, WI", "608"),
)

#: Where Northwind's parcels start.
ORIGIN = "Reno, NV"

CARRIER_HUBS: dict[str, tuple[str, ...]] = {
    "UPS": ("Sparks, NV", "Salt Lake City, UT", "Louisville, KY", "Hodgkins, IL"),
    "FedEx": ("Sacramento, CA", "Memphis, TN", "Indianapolis, IN", "Oakland, CA"),
    "USPS": ("Reno, NV Processing Center", "Denver, CO Distribution Center", "Chicago, IL Network Center"),
    "DHL": ("Cincinnati, OH Hub", "Los Angeles, CA Gateway", "Salt Lake City, UT"),
}


class CaseTemplate(NamedTuple):
    """A kind of case: its subject and opening message (``{order}`` and ``{product}`` are filled in).

    ``statuses`` limits the orders it can be about (empty: any order; ``None``: about no order);
    ``families`` limits the product to these SKU families (``None``: any product).
    """

    subject: str
    description: str
    statuses: tuple[str, ...] | None = ()
    families: frozenset[str] | None = None


_SHIPPED = ("shipped",)
_DELIVERED = ("delivered",)
_OPEN = ("pending", "processing")
#: SKU families (``NW-<family>-...``) of products that charge, and of sewn gear.
ELECTRONICS_FAMILIES = frozenset({"CHG", "PWR", "HL", "LTN", "GPS", "EAR", "SPK"})
SEWN_FAMILIES = frozenset({"JKT", "VST", "SB", "TNT", "PCK", "BT", "SH", "PAD"})

CASE_TEMPLATES: tuple[CaseTemplate, ...] = (
    CaseTemplate("Where is my order {order}?", "Tracking has not moved for several days. Can you check?", _SHIPPED),
    CaseTemplate(
        "Return label for order {order}", "I'd like to return part of order {order}; please send a label.", _DELIVERED
    ),
    CaseTemplate(
        "{product} arrived damaged",
        "The box was crushed and the {product} has a cracked housing.",
        _DELIVERED,
        ELECTRONICS_FAMILIES,
    ),
    CaseTemplate(
        "Missing item in order {order}", "One of the items on my packing slip was not in the parcel.", _DELIVERED
    ),
    CaseTemplate("Charged twice for order {order}", "My card statement shows two charges for the same order."),
    CaseTemplate(
        "Change shipping address for {order}", "I moved last week; can the parcel go to my new address?", _OPEN
    ),
    CaseTemplate(
        "{product} won't hold a charge", "It drains overnight even when switched off.", _DELIVERED, ELECTRONICS_FAMILIES
    ),
    CaseTemplate(
        "Warranty claim: {product}", "A seam split after two trips. Photos attached.", _DELIVERED, SEWN_FAMILIES
    ),
    CaseTemplate("Cancel order {order}", "I ordered the wrong size; please cancel before it ships.", _OPEN),
    CaseTemplate("Update email on my account", "Please change my login email; I no longer use the old one.", None),
    CaseTemplate("TrailPoints balance looks wrong", "My points from last month's purchase are not showing.", None),
    CaseTemplate("Question about Summit membership renewal", "When does my membership renew and at what price?", None),
)

COMMENTS_AGENT: tuple[str, ...] = (
    "Thanks for reaching out. I'm looking into this now and will update you within one business day.",
    "I've checked with the carrier; the parcel is moving again and should arrive in two to three days.",
    "A prepaid return label is on its way to your email address.",
    "Could you send a photo of the product label so we can process the warranty claim?",
    "I've issued a replacement; you'll get a tracking number once it ships.",
    "The duplicate charge was an authorisation hold and has been released by our payment processor.",
)

COMMENTS_CUSTOMER: tuple[str, ...] = (
    "Thanks, that helps.",
    "I've attached the photos you asked for.",
    "Any update on this?",
    "Got the label, I'll drop the parcel off tomorrow.",
)

RETURN_REASONS: tuple[str, ...] = (
    "Too small; ordered the wrong size.",
    "Arrived damaged.",
    "Not as described on the product page.",
    "Changed my mind.",
    "Received the wrong colour.",
)
