"""Believable coffees and reviews: a demo catalog, or a large benchmark data set.

Rows are built in Python and inserted with executemany in batches; the rating
aggregates are then rebuilt with set-based SQL (reviews.recompute_aggregates).
Real origins, regions, varieties and processes; invented roasters and farms.
"""
import random
from datetime import timedelta

from sqlalchemy import func, insert, select
from werkzeug.security import generate_password_hash

from webapp import flavours
from webapp.database import refresh_statistics
from webapp.extensions import db
from webapp.models import Coffee, CoffeeNote, CoffeeTerm, Review, ReviewTag, User
from webapp.models.base import utcnow
from webapp.models.user import new_session_token
from webapp.services import coffees as coffee_service
from webapp.services import reviews as review_service

BATCH = 5000
ROASTERS = [
    "Northbound Roasters", "Kettle & Crow", "Sever Coffee Lab", "Little Wren Roastery",
    "Copper Hill Coffee", "Dark Horse Atelier", "Obzharka Na Neve", "Tidewater Roasting Co.",
    "Paper Lantern Coffee", "Red Fox Roasters", "Sunday Ritual", "Arbor & Ash",
    "Zerno Roasters", "Slow Orbit Coffee", "Moss & Stone", "Granary Coffee Works",
]
# origin: (regions, varieties, note pool, typical altitude)
ORIGINS = {
    "ET": (["Yirgacheffe", "Guji", "Sidama", "Limu", "Kaffa"], ["Heirloom", "74110", "74158"],
           ["jasmine", "lemon", "black-tea", "peach", "blueberry", "strawberry", "honey"], 2000),
    "KE": (["Nyeri", "Kirinyaga", "Embu", "Murang'a"], ["SL28", "SL34", "Ruiru 11", "Batian"],
           ["blackberry", "grapefruit", "black-tea", "raspberry", "malic-acid", "winey"], 1750),
    "CO": (["Huila", "Nariño", "Cauca", "Tolima", "Antioquia"], ["Caturra", "Castillo", "Pink Bourbon"],
           ["caramel", "apple", "orange", "cherry", "chocolate", "brown-sugar"], 1800),
    "BR": (["Cerrado Mineiro", "Sul de Minas", "Mogiana", "Chapada Diamantina"],
           ["Yellow Catuaí", "Mundo Novo", "Yellow Bourbon"],
           ["chocolate", "hazelnut", "peanut", "caramel", "molasses", "almond"], 1100),
    "GT": (["Huehuetenango", "Antigua", "Acatenango"], ["Bourbon", "Caturra", "Pache"],
           ["chocolate", "orange", "brown-sugar", "apple", "cinnamon"], 1700),
    "CR": (["Tarrazú", "West Valley", "Central Valley"], ["Catuaí", "Villa Sarchi"],
           ["honey", "peach", "orange", "caramel", "cherry"], 1600),
    "PA": (["Boquete", "Volcán"], ["Gesha", "Catuaí"],
           ["jasmine", "rose", "peach", "lemon", "black-tea", "honey"], 1650),
    "RW": (["Nyamasheke", "Huye", "Rutsiro"], ["Red Bourbon"],
           ["cherry", "orange", "black-tea", "brown-sugar", "raspberry"], 1800),
    "BI": (["Kayanza", "Ngozi"], ["Red Bourbon"], ["raspberry", "grape", "black-tea", "cherry"], 1750),
    "ID": (["Aceh Gayo", "Lintong", "Java Ijen", "Flores Bajawa"], ["Ateng", "Typica", "Sigarar Utang"],
           ["earthy", "clove", "dark-chocolate", "tobacco", "herbal"], 1400),
    "YE": (["Haraz", "Bani Matar"], ["Udaini", "Jaadi"], ["winey", "raisin", "dark-chocolate", "cinnamon"], 2100),
    "HN": (["Santa Bárbara", "Marcala"], ["Pacas", "Parainema"], ["caramel", "apple", "peach", "chocolate"], 1550),
    "PE": (["Cajamarca", "Cusco"], ["Typica", "Caturra", "Bourbon"], ["chocolate", "almond", "orange", "honey"], 1750),
    "MX": (["Chiapas", "Oaxaca"], ["Typica", "Bourbon"], ["chocolate", "almond", "brown-sugar", "apple"], 1400),
    "SV": (["Santa Ana", "Apaneca"], ["Pacamara", "Bourbon"], ["grape", "chocolate", "orange", "caramel"], 1500),
    "TZ": (["Mbeya", "Kilimanjaro"], ["Kent", "Bourbon"], ["blackberry", "lemon", "black-tea"], 1700),
    "UG": (["Mount Elgon", "Rwenzori"], ["SL14", "Nyasaland"], ["chocolate", "cherry", "pepper"], 1800),
    "IN": (["Chikmagalur", "Araku"], ["SLN 795", "Kent"], ["dark-chocolate", "pepper", "malt"], 1200),
}
# Invented farms in the style of each region: (kinds, names).
_LATIN = (["Finca", "Hacienda", "Micro-mill"],
          ["La Loma", "El Mirador", "Santa Rosa", "Las Nubes", "San Isidro", "La Cumbre", "El Roble"])
_AFRICA = (["Washing Station", "Factory", "Cooperative"],
           ["Kamwangi", "Gatundu", "Bensa", "Hambela", "Duromina", "Alo", "Kibingo", "Nyakiza"])
_ASIA = (["Estate", "Cooperative"], ["Wahana", "Bukit Hijau", "Riung", "Al-Ghayl", "Baba Budan"])
FARMS = {**{c: _LATIN for c in ("CO", "GT", "CR", "PA", "HN", "PE", "MX", "SV")},
         **{c: _AFRICA for c in ("ET", "KE", "RW", "BI", "TZ", "UG")},
         **{c: _ASIA for c in ("ID", "YE", "IN")},
         "BR": (["Fazenda", "Sítio"], ["Bela Vista", "Santa Inês", "Boa Esperança", "Pedra Branca"])}
PROCESS_WEIGHTS = {"washed": 50, "natural": 30, "honey": 10, "anaerobic": 6, "other": 4}
ROAST_WEIGHTS = {"light": 35, "medium-light": 30, "medium": 20, "medium-dark": 10, "dark": 5}
BREW_WEIGHTS = {"pour-over": 35, "espresso": 25, "aeropress": 15, "french-press": 10,
                "moka-pot": 6, "cold-brew": 5, "other": 4}
BODIES = [
    "Bright and clean. Best at 93°C with a 1:16 ratio.",
    "Sweet as it cools; the finish lingers.",
    "Juicy acidity, a bit thin in body for my taste.",
    "Very balanced. Easy to dial in.",
    "Heavy body, low acidity. Great with milk.",
    "The bag notes are spot on.",
    "Took me three tries to dial in, but worth it.",
    "Отличный кофе на каждый день. Сладкий, без горечи.",
    "В эспрессо кисловато, в воронке раскрывается.",
    "",
]
TASTERS = ["anna_k", "mateo", "yuki_pour", "olga-brew", "sam.r", "priya", "lukas_v60", "dasha",
           "noah_m", "ines", "kofi", "marta_beans", "ben_espresso", "sofia", "arjun", "katya_moka",
           "leo", "chen", "emma-cup", "dmitri"]


def _pick(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def make_coffee_rows(rng: random.Random, count: int, lot_start: int, added_by: list[int]):
    """Believable coffees as dicts (``notes`` and a hidden ``quality`` included)."""
    now, rows = utcnow(), []
    for n in range(count):
        origin = rng.choice(list(ORIGINS))
        regions, varieties, pool, altitude = ORIGINS[origin]
        process, region = _pick(rng, PROCESS_WEIGHTS), rng.choice(regions)
        kinds, names = FARMS[origin]
        farm_name = rng.choice(names)
        farm = f"{rng.choice(kinds)} {farm_name}"
        name = f"{region} {farm_name} {process.title() if process != 'other' else 'Reserve'}"
        if lot_start:
            name += f" · Lot {lot_start + n}"
        notes = rng.sample(pool, k=min(len(pool), rng.randint(2, 4)))
        rows.append({
            "name": name, "roaster": rng.choice(ROASTERS), "origin": origin, "region": region,
            "producer": farm, "variety": rng.choice(varieties), "process": process,
            "roast": _pick(rng, ROAST_WEIGHTS),
            "altitude": altitude + rng.randrange(-300, 301, 50) if rng.random() < .8 else None,
            "description": "", "notes": notes, "quality": rng.gauss(3.7, .45),
            "added_by_id": rng.choice(added_by) if added_by else None,
            "created_at": now - timedelta(days=rng.uniform(0, 720)),
        })
    return rows


def insert_coffees(rows: list[dict]) -> list[dict]:
    """Insert the rows not yet in the catalog; returns those inserted, with ids."""
    for row in rows:
        data = coffee_service.CoffeeData(**{k: row[k] for k in (
            "name", "roaster", "origin", "region", "producer", "variety", "process", "roast",
            "altitude", "notes", "description")})
        row.update(dedupe_key=coffee_service.dedupe_key(row["roaster"], row["name"]),
                   search_text=coffee_service.search_text(data), updated_at=row["created_at"])
    existing = set(db.session.scalars(select(Coffee.dedupe_key)))
    fresh, seen = [], set()
    for row in rows:
        if row["dedupe_key"] not in existing and row["dedupe_key"] not in seen:
            seen.add(row["dedupe_key"])
            fresh.append(row)
    columns = {c.name for c in Coffee.__table__.columns} - {"id"}
    zero = {"rating_count": 0, "rating_sum": 0, "rating_mean": None, "rating_bayes": 0.0,
            **{f"hist_{n}": 0 for n in range(1, 11)}}
    _insert_many(Coffee, [{**zero, **{k: v for k, v in r.items() if k in columns}} for r in fresh])
    ids = dict(db.session.execute(select(Coffee.dedupe_key, Coffee.id)).all())
    notes, terms = [], []
    for row in fresh:
        row["id"] = ids[row["dedupe_key"]]
        notes.extend({"coffee_id": row["id"], "tag": t, "position": i} for i, t in enumerate(row["notes"]))
        terms.extend({"term": t, "coffee_id": row["id"]}
                     for t in coffee_service.search_terms(row["search_text"]))
    _insert_many(CoffeeNote, notes)
    _insert_many(CoffeeTerm, terms)
    return fresh


def ensure_users(usernames: list[str], password_hash: str) -> list[int]:
    """Ids of these users, creating the missing ones (sharing one password hash)."""
    have = dict(db.session.execute(select(User.username, User.id).where(User.username.in_(usernames))).all())
    now = utcnow()
    missing = [{"username": u, "email": f"{u}@crema.test", "password_hash": password_hash,
                "display_name": "", "bio": "", "role": "user", "session_token": new_session_token(),
                "created_at": now - timedelta(days=400 - i % 400)}
               for i, u in enumerate(usernames) if u not in have]
    _insert_many(User, missing)
    if missing:
        have = dict(db.session.execute(select(User.username, User.id).where(User.username.in_(usernames))).all())
    return [have[u] for u in usernames]


def make_review_rows(rng: random.Random, coffees: list[dict], counts: list[int], users: list[int]):
    """``counts[i]`` reviews of ``coffees[i]`` by distinct users (tags under ``_tags``)."""
    now, reviews = utcnow(), []
    every_tag = list(flavours.FLAVOURS)
    for coffee, k in zip(coffees, counts):
        age = (now - coffee["created_at"]).total_seconds()
        for user_id in rng.sample(users, k):
            stars = min(5.0, max(0.5, rng.gauss(coffee["quality"], .6)))
            found = [t for t in coffee["notes"] if rng.random() < .55]
            if rng.random() < .3:
                found.append(rng.choice(every_tag))
            created = now - timedelta(seconds=rng.uniform(0, age))
            reviews.append({"coffee_id": coffee["id"], "user_id": user_id,
                            "rating": int(round(stars * 2)), "brew_method": _pick(rng, BREW_WEIGHTS),
                            "body": rng.choice(BODIES) if rng.random() < .6 else "",
                            "created_at": created, "updated_at": created,
                            "_tags": list(dict.fromkeys(found))})
    return reviews


def insert_reviews(reviews: list[dict]) -> None:
    """Insert reviews of freshly inserted coffees (so no pair exists yet) and their tags."""
    _insert_many(Review, [{k: v for k, v in r.items() if k != "_tags"} for r in reviews])
    tagged = [r for r in reviews if r["_tags"]]
    if not tagged:
        return
    ids = {}
    coffee_ids = sorted({r["coffee_id"] for r in tagged})
    for start in range(0, len(coffee_ids), 900):
        chunk = coffee_ids[start:start + 900]
        ids.update({(c, u): i for i, c, u in db.session.execute(
            select(Review.id, Review.coffee_id, Review.user_id).where(Review.coffee_id.in_(chunk)))})
    _insert_many(ReviewTag, [{"review_id": ids[(r["coffee_id"], r["user_id"])], "tag": t,
                              "coffee_id": r["coffee_id"], "position": i}
                             for r in tagged for i, t in enumerate(r["_tags"])])


def _insert_many(model, rows: list[dict]) -> None:
    """Insert plain rows in the session's transaction: COPY on PostgreSQL, else executemany."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), BATCH):
            db.session.execute(insert(model.__table__), rows[start:start + BATCH])
        return
    # psycopg's executemany sends one statement per row; COPY streams them all at once.
    names = list(rows[0])
    columns = ", ".join(f'"{n}"' for n in names)
    cursor = connection.connection.dbapi_connection.cursor()
    with cursor.copy(f'COPY "{model.__tablename__}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[n] for n in names])
    cursor.close()


def seed_catalog(demo_usernames: list[str], password_hash: str, rng_seed: int = 7) -> list[str]:
    """About 40 coffees and a few hundred reviews; running it again adds nothing."""
    rng = random.Random(rng_seed)
    users = ensure_users(demo_usernames + TASTERS, password_hash)
    coffees = insert_coffees(make_coffee_rows(rng, 40, 0, users[:len(demo_usernames)]))
    counts = [rng.randint(0, 14) for _ in coffees]
    reviews = make_review_rows(rng, coffees, counts, users)
    insert_reviews(reviews)
    db.session.commit()
    review_service.recompute_aggregates([r["id"] for r in coffees])
    return [f"Catalog: {len(coffees)} coffees and {len(reviews)} reviews added "
            f"({len(ORIGINS)} origins, {len(ROASTERS)} invented roasters)."]


def seed_benchmark(n_coffees: int, n_reviews: int, password_hash: str, rng_seed: int = 1) -> list[str]:
    """``n_coffees`` new coffees and ``n_reviews`` reviews spread unevenly over them."""
    rng = random.Random(rng_seed + db.session.scalar(select(func.count(Coffee.id))))
    lot = (db.session.scalar(select(func.max(Coffee.id))) or 0) + 1
    weights = [min(rng.paretovariate(1.3), 20.0) for _ in range(n_coffees)]
    total = sum(weights) or 1
    counts = [int(n_reviews * w / total) for w in weights]
    for i in rng.sample(range(n_coffees), min(n_coffees, n_reviews - sum(counts))):
        counts[i] += 1
    pool = max(counts + [1])
    users = ensure_users([f"taster{n:05d}" for n in range(pool)], password_hash)
    coffees = insert_coffees(make_coffee_rows(rng, n_coffees, lot, users[:50]))
    reviews = make_review_rows(rng, coffees, counts, users)
    insert_reviews(reviews)
    db.session.commit()
    review_service.recompute_aggregates()
    refresh_statistics()
    return [f"Benchmark: {len(coffees)} coffees and {len(reviews)} reviews added "
            f"by {pool} tasters."]


def shared_password_hash(password: str, method: str) -> str:
    return generate_password_hash(password, method=method)
