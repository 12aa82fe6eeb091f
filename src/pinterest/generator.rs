//! Deterministic synthetic emulator of the original "Pinterest data pipeline" producer.
//!
//! The original project ran a Python script that, in an endless loop, picked a random row index
//! and sent that row of three MySQL tables (`pinterest_data`, `geolocation_data`, `user_data`)
//! as a (pin, geo, user) triple to Kafka or Kinesis. laketide's topologies, tests and benchmarks
//! need that traffic without the original tables (scraped third-party content that must not be
//! shipped), so this module synthesizes tables of the same shape and statistics and replays
//! them the same way:
//!
//! * each [`Triple`] is one send: an index drawn uniformly from `0..=11153` and the three rows
//!   at that index, each a single-line JSON object written exactly as Python's `json.dumps`
//!   wrote them (key order of the source tables, `", "` and `": "` separators, non-ASCII
//!   characters raw, datetimes as `YYYY-MM-DD HH:MM:SS`);
//! * a row is a pure function of (seed, index), so indexes repeat across sends with identical
//!   content, as the original table rows did;
//! * the randomness is a SplitMix64 written here, so a seed yields the same bytes forever,
//!   whatever the dependency versions; no floating-point math feeds the output either.
//!
//! The statistics were calibrated on the real tables (`shared/spec/distributions.txt`); none of
//! their text is used: titles, descriptions, tags and names come from the small word lists
//! below. Three structural traits of the real tables are reproduced because downstream
//! queries see them:
//!
//! * pins are stored in category blocks (the scraper saved one category after another), so
//!   `category` is a function of the index range, with block sizes following the category
//!   weights; video and story-format rates differ by category as they did;
//! * geo and user rows are drawn from 5,307 underlying entities, each shared by a group of
//!   indexes (group sizes 1..244 as in the real table), and every column of an entity is the
//!   minimum of one uniform draw per group member. That one mechanism produces all the real
//!   skews at once: countries and names early in the alphabet, latitudes near -90, longitudes
//!   near -180, ages near 20 (44% aged 18-24) and joins in late 2015 (40% in 2015), with the
//!   geo and user rows of an index describing the same entity. Geo timestamps are per row;
//! * recurring posters keep one follower count, as a scraped account does.
//!
//! Known simplifications: the top posters are less dominant than the real ones (2% of rows for
//! the biggest real account, under 1% here), and the few raw "None"/null values of the real
//! archive are not produced (the cleaning contract's placeholders are).

use std::fmt;

/// Rows in each emulated table; sends draw indexes uniformly from `0..ROWS`.
const ROWS: u32 = 11_154;

/// One send of the emulator: the rows with the same index from the three tables.
///
/// Each of `pin`, `geo` and `user` is a single-line JSON object without a trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triple {
    pub index: u32,
    pub pin: String,
    pub geo: String,
    pub user: String,
}

/// Endless, deterministic source of emulator sends.
///
/// `new` builds the per-seed tables (geo/user entities, recurring posters' followers) once;
/// every send then formats its three rows straight into their output strings.
#[derive(Clone)]
pub struct Generator {
    seed: u64,
    /// Draws the send order (the emulator's `random.randint`).
    sends: SplitMix64,
    /// Index -> geo/user entity.
    entity_of: Box<[u16]>,
    entities: Box<[Entity]>,
    /// Follower count of each recurring poster, `category * POOL + rank`.
    pool_followers: Box<[Followers]>,
    /// Reused buffer for synthesized text before it is escaped into the JSON line.
    text: String,
}

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("seed", &self.seed)
            .field("sends", &self.sends.0)
            .finish()
    }
}

impl Generator {
    /// A generator whose output is fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = stream(seed, SALT_TABLE, 0);
        let mut entities = Vec::with_capacity(ENTITIES);
        let mut entity_of = Vec::with_capacity(ROWS as usize);
        for &(size, groups) in &GROUP_SIZES {
            for _ in 0..groups {
                let id = entities.len() as u16;
                entities.push(Entity::min_of(size, &mut rng));
                entity_of.extend(std::iter::repeat_n(id, size as usize));
            }
        }
        // Scatter group members over the index range (the real table interleaves them).
        for i in (1..entity_of.len()).rev() {
            let j = rng.below(i as u32 + 1) as usize;
            entity_of.swap(i, j);
        }

        // Recurring posters get their follower counts by systematic sampling over their
        // cumulative pick weight: the row-level format shares then match the targets even
        // though a few posters carry many rows (independent draws would let the top posters
        // swing the NM share by a percent or more from seed to seed).
        let mut pool_followers = Vec::with_capacity(CATEGORIES.len() * POOL);
        let mut millions = Vec::new();
        for c in 0..CATEGORIES.len() {
            let offset = stream(seed, SALT_POOL, c as u64).next_u64() >> 32;
            for k in 0..POOL {
                let before = if k == 0 { 0 } else { POOL_CUM[k - 1] };
                let mid = ((u64::from(before) * 2 + u64::from(POOL_CUM[k] - before)) << 31)
                    / u64::from(POOL_TOTAL);
                let u = (mid + offset) & 0xFFFF_FFFF;
                let slot = ((u * u64::from(FOLLOWER_TOTAL)) >> 32) as u32;
                if slot >= FOLLOWER_DIGITS_END {
                    millions.push((pool_followers.len(), POOL_CUM[k] - before));
                }
                let mut vr = stream(seed, SALT_POOL_VALUE, (c * POOL + k) as u64);
                pool_followers.push(Followers::from_slot(slot, &mut vr));
            }
        }
        // A second systematic pass over the accounts with millions, so that they also follow
        // the real 1M/2M/5M.. mix instead of whichever value a heavy account happened to get.
        let total: u64 = millions
            .iter()
            .map(|&(_, w)| u64::from(w))
            .sum::<u64>()
            .max(1);
        let offset = stream(seed, SALT_POOL, CATEGORIES.len() as u64).next_u64() >> 32;
        let mut cum = 0;
        for &(i, w) in &millions {
            let mid = ((cum * 2 + u64::from(w)) << 31) / total;
            cum += u64::from(w);
            let u = (mid + offset) & 0xFFFF_FFFF;
            let span = u64::from(FOLLOWER_TOTAL - FOLLOWER_DIGITS_END);
            let slot = FOLLOWER_DIGITS_END + ((u * span) >> 32) as u32;
            // An NM slot draws nothing from the stream.
            pool_followers[i] = Followers::from_slot(slot, &mut stream(seed, SALT_POOL_VALUE, 0));
        }

        Generator {
            seed,
            sends: stream(seed, SALT_SENDS, 0),
            entity_of: entity_of.into_boxed_slice(),
            entities: entities.into_boxed_slice(),
            pool_followers: pool_followers.into_boxed_slice(),
            text: String::with_capacity(512),
        }
    }

    /// The next send of the emulator.
    pub fn next_triple(&mut self) -> Triple {
        let index = self.sends.below(ROWS);
        self.triple_at(index)
    }

    /// The rows at `index`; identical every time for a given seed.
    fn triple_at(&mut self, index: u32) -> Triple {
        let mut pin = String::with_capacity(1024);
        let mut geo = String::with_capacity(160);
        let mut user = String::with_capacity(160);
        self.write_pin(index, &mut pin);
        self.write_geo(index, &mut geo);
        self.write_user(index, &mut user);
        Triple {
            index,
            pin,
            geo,
            user,
        }
    }

    fn write_pin(&mut self, index: u32, out: &mut String) {
        let seed = self.seed;
        let mut rng = stream(seed, SALT_PIN, u64::from(index));
        let c = category_of(index);
        let cat = &CATEGORIES[c];
        let kind = PinKind::draw(cat, &mut rng);
        let placeholder_user = kind == PinKind::UserInfoError;

        // Decide the poster first: the title may quote it as its source.
        let poster = if rng.chance(POOL_SHARE_PERCENT, 100) {
            let x = rng.below(POOL_TOTAL);
            let k = POOL_CUM.partition_point(|&cum| cum <= x);
            Poster::Pool(c, k)
        } else {
            Poster::OneOff(index)
        };
        let poster_stream = poster.stream(seed);

        out.push_str("{\"index\": ");
        push_u32(out, index);
        out.push_str(", \"unique_id\": \"");
        push_uuid(out, &mut rng);

        out.push_str("\", \"title\": ");
        if placeholder_user {
            out.push_str("\"No Title Data Available\"");
        } else {
            self.text.clear();
            write_title(&mut rng, cat, poster_stream, &mut self.text);
            push_json_str(out, &self.text);
        }

        out.push_str(", \"description\": ");
        match kind {
            PinKind::UserInfoError | PinKind::Story { .. } => {
                out.push_str("\"No description available Story format\"");
            }
            PinKind::Image {
                no_description: true,
                ..
            }
            | PinKind::Video {
                no_description: true,
                ..
            } => {
                out.push_str("\"No description available\"");
            }
            _ => {
                self.text.clear();
                write_description(&mut rng, cat, &mut self.text);
                push_json_str(out, &self.text);
            }
        }

        out.push_str(", \"poster_name\": ");
        if placeholder_user {
            out.push_str("\"User Info Error\"");
        } else {
            self.text.clear();
            write_poster(poster_stream, cat, &mut self.text);
            push_json_str(out, &self.text);
        }

        out.push_str(", \"follower_count\": \"");
        if placeholder_user {
            out.push_str("User Info Error");
        } else {
            let followers = match poster {
                Poster::Pool(c, k) => self.pool_followers[c * POOL + k],
                Poster::OneOff(_) => {
                    let slot = rng.below(FOLLOWER_TOTAL);
                    Followers::from_slot(slot, &mut rng)
                }
            };
            followers.push(out);
        }

        out.push_str("\", \"tag_list\": ");
        if kind.no_tags() {
            out.push_str("\"N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e\"");
        } else {
            self.text.clear();
            write_tags(&mut rng, cat, &mut self.text);
            push_json_str(out, &self.text);
        }

        out.push_str(", \"is_image_or_video\": \"");
        out.push_str(kind.media());
        out.push_str("\", \"image_src\": \"");
        if kind.image_error() {
            out.push_str("Image src error.");
        } else {
            push_image_src(out, &mut rng, kind.media() != "image");
        }

        // A broken image means nothing was downloaded; a few intact rows also failed.
        let downloaded = !kind.image_error() && !rng.chance(16, 4261);
        out.push_str("\", \"downloaded\": ");
        out.push(if downloaded { '1' } else { '0' });
        out.push_str(", \"save_location\": \"Local save in /data/");
        out.push_str(cat.name);
        out.push_str("\", \"category\": \"");
        out.push_str(cat.name);
        out.push_str("\"}");
    }

    fn write_geo(&self, index: u32, out: &mut String) {
        let e = &self.entities[self.entity_of[index as usize] as usize];
        let mut rng = stream(self.seed, SALT_GEO, u64::from(index));
        let ts = TS_LO + i64::from(rng.below((TS_HI - TS_LO) as u32));
        out.push_str("{\"ind\": ");
        push_u32(out, index);
        out.push_str(", \"timestamp\": \"");
        push_datetime(out, ts);
        out.push_str("\", \"latitude\": ");
        push_coord(out, e.lat);
        out.push_str(", \"longitude\": ");
        push_coord(out, e.lon);
        // The static lists hold no character that JSON would escape (checked by a test).
        out.push_str(", \"country\": \"");
        out.push_str(COUNTRIES[e.country as usize]);
        out.push_str("\"}");
    }

    fn write_user(&self, index: u32, out: &mut String) {
        let e = &self.entities[self.entity_of[index as usize] as usize];
        out.push_str("{\"ind\": ");
        push_u32(out, index);
        out.push_str(", \"first_name\": \"");
        out.push_str(FIRST_NAMES[e.first as usize]);
        out.push_str("\", \"last_name\": \"");
        out.push_str(LAST_NAMES[e.last as usize]);
        out.push_str("\", \"age\": ");
        push_u32(out, u32::from(e.age));
        out.push_str(", \"date_joined\": \"");
        push_datetime(out, DJ_LO + i64::from(e.joined));
        out.push_str("\"}");
    }
}

impl Iterator for Generator {
    type Item = Triple;

    fn next(&mut self) -> Option<Triple> {
        Some(self.next_triple())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// SplitMix64: tiny, fast, well mixed, and fixed here so output never changes with a crate.
#[derive(Clone, Copy)]
struct SplitMix64(u64);

impl SplitMix64 {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        fmix(self.0)
    }

    /// Uniform in `0..n` by multiply-shift; the bias (under n / 2^32) is far below anything
    /// the statistics could show.
    #[inline]
    fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    #[inline]
    fn chance(&mut self, num: u32, den: u32) -> bool {
        self.below(den) < num
    }

    #[inline]
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u32) as usize]
    }
}

#[inline]
fn fmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An independent stream for (seed, purpose, item): rows are generated from their own stream,
/// so a row never depends on what was sent before it.
#[inline]
fn stream(seed: u64, salt: u64, item: u64) -> SplitMix64 {
    SplitMix64(fmix(
        fmix(seed ^ salt) ^ item.wrapping_mul(0xD1B5_4A32_D192_ED03),
    ))
}

const SALT_SENDS: u64 = 0x5EED_0001;
const SALT_TABLE: u64 = 0x5EED_0002;
const SALT_PIN: u64 = 0x5EED_0003;
const SALT_GEO: u64 = 0x5EED_0004;
const SALT_POOL: u64 = 0x5EED_0005;
const SALT_POOL_VALUE: u64 = 0x5EED_0006;
const SALT_POSTER_POOL: u64 = 0x5EED_0007;
const SALT_POSTER_ONE_OFF: u64 = 0x5EED_0008;

// ---------------------------------------------------------------------------------------------
// geo / user entities

/// (group size, number of groups) of the real geo/user tables: 5,307 entities over 11,154
/// rows, most alone, a few shared by dozens or hundreds of indexes.
#[rustfmt::skip]
const GROUP_SIZES: [(u16, u16); 44] = [
    (1, 3869), (2, 640), (3, 272), (4, 156), (5, 88), (6, 65), (7, 36), (8, 35), (9, 22), (10, 25),
    (11, 11), (12, 9), (13, 8), (14, 8), (15, 6), (16, 5), (17, 1), (18, 7), (19, 5), (20, 3),
    (21, 3), (23, 1), (24, 4), (26, 1), (28, 3), (30, 1), (31, 1), (32, 1), (35, 3), (36, 1),
    (38, 1), (44, 1), (45, 2), (47, 1), (49, 1), (53, 1), (54, 1), (60, 1), (68, 1), (81, 1),
    (86, 2), (88, 2), (140, 1), (244, 1),
];
const ENTITIES: usize = 5_307;

/// 2017-10-19 12:00:00 .. 2022-10-19 18:00:00 UTC, the real geo timestamps' span.
const TS_LO: i64 = days_from_civil(2017, 10, 19) * 86_400 + 12 * 3600;
const TS_HI: i64 = days_from_civil(2022, 10, 19) * 86_400 + 18 * 3600;
/// 2015-10-21 00:00:00 .. 2017-10-20 12:00:00 UTC, the real date_joined span.
const DJ_LO: i64 = days_from_civil(2015, 10, 21) * 86_400;
const DJ_HI: i64 = days_from_civil(2017, 10, 20) * 86_400 + 12 * 3600;

/// One geo/user entity. Coordinates in millionths of a degree.
#[derive(Clone, Copy)]
struct Entity {
    first: u8,
    last: u8,
    country: u8,
    age: u8,
    /// Seconds after `DJ_LO`.
    joined: u32,
    lat: i32,
    lon: i32,
}

impl Entity {
    /// Every column is the minimum of `size` uniform draws (see the module doc for why).
    fn min_of(size: u16, rng: &mut SplitMix64) -> Entity {
        let mut e = Entity {
            first: u8::MAX,
            last: u8::MAX,
            country: u8::MAX,
            age: u8::MAX,
            joined: u32::MAX,
            lat: i32::MAX,
            lon: i32::MAX,
        };
        for _ in 0..size {
            e.first = e.first.min(rng.below(FIRST_NAMES.len() as u32) as u8);
            e.last = e.last.min(rng.below(LAST_NAMES.len() as u32) as u8);
            e.country = e.country.min(rng.below(COUNTRIES.len() as u32) as u8);
            e.age = e.age.min(20 + rng.below(41) as u8);
            e.joined = e.joined.min(rng.below((DJ_HI - DJ_LO) as u32));
            e.lat = e.lat.min(rng.below(180_000_001) as i32 - 90_000_000);
            e.lon = e.lon.min(rng.below(360_000_001) as i32 - 180_000_000);
        }
        e
    }
}

// ---------------------------------------------------------------------------------------------
// pins

/// A pin category: its block weight and per-category media mix, from the real table's counts
/// (per `weight` rows: `story` multi-video rows and `video` video rows).
struct Category {
    name: &'static str,
    weight: u32,
    story: u32,
    video: u32,
    /// How a blog about it would describe itself (poster names).
    topic: &'static str,
    /// Title Case noun phrases; 15 each so tag strides coprime to 15 visit distinct ones.
    subjects: [&'static str; 15],
}

/// Alphabetical, as the real table's blocks are.
#[rustfmt::skip]
const CATEGORIES: [Category; 13] = [
    Category {
        name: "art",
        weight: 354,
        story: 23,
        video: 21,
        topic: "Art & Painting",
        subjects: [
            "Abstract Painting", "Watercolor Flowers", "Canvas Art", "Pencil Drawing",
            "Acrylic Pour Painting", "Line Art", "Oil Portraits", "Sketchbook Pages",
            "Botanical Prints", "Wall Murals", "Charcoal Sketches", "Landscape Painting",
            "Digital Illustration", "Paper Collage", "Pop Art",
        ],
    },
    Category {
        name: "beauty",
        weight: 286,
        story: 28,
        video: 7,
        topic: "Beauty Tips",
        subjects: [
            "Skincare Routine", "Nail Art", "Easy Hairstyles", "Makeup Looks", "Eyebrow Shaping",
            "Face Masks", "Braided Hair", "Lip Colors", "Curly Hair Care", "Glowing Skin",
            "Eyeliner Tricks", "Bridal Makeup", "Short Haircuts", "Summer Nails",
            "Hair Color Ideas",
        ],
    },
    Category {
        name: "christmas",
        weight: 415,
        story: 9,
        video: 15,
        topic: "Holiday Crafts",
        subjects: [
            "Christmas Ornaments", "Christmas Tree Decor", "Holiday Wreaths", "Gingerbread Houses",
            "Christmas Cookies", "Advent Calendars", "Stocking Stuffers", "Christmas Crafts",
            "Holiday Table Settings", "Christmas Lights", "Santa Crafts", "Snowman Crafts",
            "Christmas Gift Ideas", "Mantel Decorations", "Ugly Sweaters",
        ],
    },
    Category {
        name: "diy-and-crafts",
        weight: 329,
        story: 52,
        video: 47,
        topic: "DIY & Crafts",
        subjects: [
            "Paper Crafts", "Mason Jar Crafts", "Kids Crafts", "Yarn Projects",
            "Upcycled Furniture", "Pallet Projects", "Wood Signs", "Felt Animals",
            "Macrame Wall Hangings", "Painted Rocks", "Sewing Projects", "Cricut Projects",
            "Dollar Store Crafts", "Clay Ornaments", "Quilt Patterns",
        ],
    },
    Category {
        name: "education",
        weight: 314,
        story: 8,
        video: 2,
        topic: "Teaching Ideas",
        subjects: [
            "Classroom Ideas", "Math Centers", "Reading Activities", "Science Experiments",
            "Teaching Tips", "Homeschool Schedules", "Phonics Games", "Bulletin Boards",
            "Study Tips", "Writing Prompts", "Preschool Activities", "Sight Word Games",
            "Anchor Charts", "Learning Printables", "Classroom Management",
        ],
    },
    Category {
        name: "event-planning",
        weight: 304,
        story: 51,
        video: 1,
        topic: "Party Planning",
        subjects: [
            "Wedding Planning", "Party Decorations", "Baby Shower Ideas", "Birthday Party Themes",
            "Event Checklists", "Table Centerpieces", "Bridal Shower Games", "Party Favors",
            "Wedding Budget", "Graduation Party", "Dessert Tables", "Balloon Garlands",
            "Venue Ideas", "Event Timelines", "Party Invitations",
        ],
    },
    Category {
        name: "finance",
        weight: 306,
        story: 32,
        video: 5,
        topic: "Personal Finance",
        subjects: [
            "Budget Planner", "Saving Money Tips", "Debt Payoff Plan", "Side Hustles",
            "Passive Income", "Money Saving Challenge", "Budgeting Printables", "Frugal Living",
            "Investing Basics", "Emergency Fund", "Grocery Budget", "Retirement Planning",
            "Credit Score Tips", "Financial Goals", "Coupon Organizers",
        ],
    },
    Category {
        name: "home-decor",
        weight: 317,
        story: 33,
        video: 0,
        topic: "Home Decor",
        subjects: [
            "Living Room Decor", "Farmhouse Kitchen", "Bedroom Ideas", "Bathroom Makeover",
            "Boho Decor", "Gallery Walls", "Entryway Ideas", "Rustic Shelves", "Cozy Reading Nook",
            "Small Space Living", "Modern Lighting", "Throw Pillows", "Accent Walls",
            "Indoor Plants", "Dining Room Decor",
        ],
    },
    Category {
        name: "mens-fashion",
        weight: 339,
        story: 31,
        video: 0,
        topic: "Men's Style",
        subjects: [
            "Mens Outfits", "Casual Style", "Street Style", "Leather Jackets", "Denim Jeans",
            "Smart Casual Looks", "Mens Sneakers", "Suit Styles", "Summer Outfits", "Beard Styles",
            "Mens Watches", "Layering Looks", "Winter Coats", "Chelsea Boots",
            "Minimalist Wardrobe",
        ],
    },
    Category {
        name: "quotes",
        weight: 379,
        story: 13,
        video: 3,
        topic: "Daily Quotes",
        subjects: [
            "Motivational Quotes", "Love Quotes", "Life Quotes", "Inspirational Sayings",
            "Friendship Quotes", "Funny Quotes", "Self Love Quotes", "Positive Affirmations",
            "Relationship Quotes", "Wise Words", "Morning Quotes", "Strength Quotes",
            "Happiness Quotes", "Success Quotes", "Healing Quotes",
        ],
    },
    Category {
        name: "tattoos",
        weight: 372,
        story: 9,
        video: 0,
        topic: "Tattoo Ideas",
        subjects: [
            "Small Tattoos", "Floral Tattoos", "Sleeve Tattoos", "Minimalist Tattoos",
            "Wrist Tattoos", "Tattoo Designs", "Matching Tattoos", "Script Tattoos",
            "Geometric Tattoos", "Back Tattoos", "Fine Line Tattoos", "Moon Tattoos",
            "Animal Tattoos", "Ankle Tattoos", "Watercolor Tattoos",
        ],
    },
    Category {
        name: "travel",
        weight: 362,
        story: 37,
        video: 27,
        topic: "Travel Tips",
        subjects: [
            "Travel Destinations", "Beach Vacations", "Road Trip Ideas", "Packing Lists",
            "Hidden Gems", "Europe Itinerary", "Travel Hacks", "Mountain Hikes", "City Breaks",
            "National Parks", "Island Getaways", "Budget Travel", "Travel Photography",
            "Weekend Trips", "Bucket List Places",
        ],
    },
    Category {
        name: "vehicles",
        weight: 282,
        story: 18,
        video: 1,
        topic: "Car Culture",
        subjects: [
            "Classic Cars", "Sports Cars", "Muscle Cars", "Motorcycles", "Camper Vans",
            "Off Road Trucks", "Car Interiors", "Luxury Cars", "Vintage Trucks", "Electric Cars",
            "Custom Bikes", "Car Detailing", "Jeep Builds", "Race Cars", "Dream Garages",
        ],
    },
];

const WEIGHT_TOTAL: u32 = {
    let mut total = 0;
    let mut c = 0;
    while c < CATEGORIES.len() {
        total += CATEGORIES[c].weight;
        c += 1;
    }
    total
};

/// Exclusive end index of each category's block.
const BLOCK_END: [u32; 13] = {
    let mut ends = [0; 13];
    let mut cum = 0;
    let mut c = 0;
    while c < CATEGORIES.len() {
        cum += CATEGORIES[c].weight;
        ends[c] = (cum as u64 * ROWS as u64 / WEIGHT_TOTAL as u64) as u32;
        c += 1;
    }
    ends
};

#[inline]
fn category_of(index: u32) -> usize {
    BLOCK_END
        .iter()
        .position(|&end| index < end)
        .unwrap_or(CATEGORIES.len() - 1)
}

/// The media kind of a pin and which placeholders it carries. The placeholders never occur
/// alone at random: these are the real table's co-occurrence patterns (distributions.txt).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PinKind {
    /// Story pin whose scrape failed: every text field is a placeholder.
    UserInfoError,
    /// multi-video(story page format): always "No description available Story format".
    Story {
        image_error: bool,
        no_tags: bool,
    },
    Video {
        no_description: bool,
        no_tags: bool,
    },
    Image {
        no_description: bool,
        no_tags: bool,
    },
}

impl PinKind {
    fn draw(cat: &Category, rng: &mut SplitMix64) -> PinKind {
        let x = rng.below(cat.weight);
        if x < cat.story {
            // Of 322 real story rows: 29 user-info errors, 69 image errors, 5 without tags.
            match rng.below(322) {
                0..29 => PinKind::UserInfoError,
                29..98 => PinKind::Story {
                    image_error: true,
                    no_tags: false,
                },
                98..103 => PinKind::Story {
                    image_error: false,
                    no_tags: true,
                },
                _ => PinKind::Story {
                    image_error: false,
                    no_tags: false,
                },
            }
        } else if x < cat.story + cat.video {
            let y = rng.below(129);
            PinKind::Video {
                no_description: y < 4,
                no_tags: (4..7).contains(&y),
            }
        } else {
            let y = rng.below(3885);
            PinKind::Image {
                no_description: y < 61,
                no_tags: (61..85).contains(&y),
            }
        }
    }

    fn no_tags(self) -> bool {
        match self {
            PinKind::UserInfoError => true,
            PinKind::Story { no_tags, .. }
            | PinKind::Video { no_tags, .. }
            | PinKind::Image { no_tags, .. } => no_tags,
        }
    }

    fn image_error(self) -> bool {
        matches!(
            self,
            PinKind::UserInfoError
                | PinKind::Story {
                    image_error: true,
                    ..
                }
        )
    }

    fn media(self) -> &'static str {
        match self {
            PinKind::UserInfoError | PinKind::Story { .. } => "multi-video(story page format)",
            PinKind::Video { .. } => "video",
            PinKind::Image { .. } => "image",
        }
    }
}

/// Recurring posters per category, picked with weight ~1/(k + 4): a few accounts carry many
/// pins, as in the real table (its top posters are more concentrated still, but heavier
/// accounts would make the follower shares swing from seed to seed).
const POOL: usize = 64;
const POOL_SHARE_PERCENT: u32 = 50;
const POOL_CUM: [u32; POOL] = {
    let mut cum = [0; POOL];
    let mut acc = 0;
    let mut k = 0;
    while k < POOL {
        acc += 1_000_000 / (k as u32 + 4);
        cum[k] = acc;
        k += 1;
    }
    cum
};
const POOL_TOTAL: u32 = POOL_CUM[POOL - 1];

#[derive(Clone, Copy)]
enum Poster {
    /// (category, rank) of a recurring poster.
    Pool(usize, usize),
    /// A poster seen on this row only.
    OneOff(u32),
}

impl Poster {
    /// The poster's own stream: its name comes out the same wherever it is written.
    fn stream(self, seed: u64) -> SplitMix64 {
        match self {
            Poster::Pool(c, k) => stream(seed, SALT_POSTER_POOL, (c * POOL + k) as u64),
            Poster::OneOff(index) => stream(seed, SALT_POSTER_ONE_OFF, u64::from(index)),
        }
    }
}

/// follower_count formats out of 4,312 real non-placeholder values: 3,046 "Nk", 931 digits,
/// then "NM" by value.
const FOLLOWER_TOTAL: u32 = 4_312;
const FOLLOWER_K_END: u32 = 3_046;
const FOLLOWER_DIGITS_END: u32 = 3_977;
#[rustfmt::skip]
const FOLLOWER_MILLIONS: [(u8, u32); 9] = [
    (1, 4_035), (2, 4_176), (3, 4_194), (4, 4_212), (5, 4_290), (6, 4_294), (7, 4_295), (8, 4_308),
    (15, 4_312),
];
/// Quantile knots (x1000) of "Nk": log-uniform 2..1000, the real deciles (4, 7, 15, .., 531).
const THOUSANDS_KNOTS: [u32; 33] = [
    2000, 2429, 2949, 3581, 4349, 5281, 6413, 7788, 9457, 11485, 13946, 16936, 20566, 24974, 30327,
    36827, 44721, 54307, 65948, 80084, 97249, 118094, 143408, 174146, 211474, 256803, 311848,
    378692, 459863, 558434, 678132, 823488, 1000000,
];
/// Quantile knots (x1000) of plain digits: 1000 * u^2.5, close to the real deciles.
const DIGITS_KNOTS: [u32; 33] = [
    0, 173, 977, 2691, 5524, 9651, 15223, 22381, 31250, 41950, 54592, 69280, 86115, 105192, 126603,
    150436, 176777, 205706, 237305, 271650, 308816, 348878, 391906, 437970, 487139, 539480, 595057,
    653935, 716177, 781844, 850997, 923696, 1000000,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Followers {
    Digits(u16),
    Thousands(u16),
    Millions(u8),
}

impl Followers {
    fn from_slot(slot: u32, rng: &mut SplitMix64) -> Followers {
        if slot < FOLLOWER_K_END {
            Followers::Thousands((quantile(&THOUSANDS_KNOTS, rng) / 1000).clamp(1, 999) as u16)
        } else if slot < FOLLOWER_DIGITS_END {
            Followers::Digits((quantile(&DIGITS_KNOTS, rng) / 1000).min(999) as u16)
        } else {
            let m = FOLLOWER_MILLIONS.iter().find(|&&(_, end)| slot < end);
            Followers::Millions(m.map_or(15, |&(m, _)| m))
        }
    }

    fn push(self, out: &mut String) {
        match self {
            Followers::Digits(n) => push_u32(out, u32::from(n)),
            Followers::Thousands(n) => {
                push_u32(out, u32::from(n));
                out.push('k');
            }
            Followers::Millions(n) => {
                push_u32(out, u32::from(n));
                out.push('M');
            }
        }
    }
}

/// Piecewise-linear inverse CDF over N - 1 equal-probability segments, integers only.
fn quantile<const N: usize>(knots: &[u32; N], rng: &mut SplitMix64) -> u32 {
    let r = rng.below(((N - 1) as u32) << 10);
    let seg = (r >> 10) as usize;
    knots[seg] + (((knots[seg + 1] - knots[seg]) * (r & 1023)) >> 10)
}

// ---------------------------------------------------------------------------------------------
// text synthesis
//
// Templates use `{X}` slots: S/s subject (Title/lower case), A/a adjective, P/p audience,
// V/v verb, n number, w place, h hashtag body, t the category's topic.

#[rustfmt::skip]
const ADJECTIVES: [&str; 30] = [
    "Easy", "Simple", "Beautiful", "Cute", "Modern", "Rustic", "Creative", "Unique", "Cozy",
    "Vintage", "Elegant", "Minimalist", "Colorful", "Cheap", "Quick", "Awesome", "Classic",
    "Stunning", "Fun", "Aesthetic", "Boho", "Natural", "Bold", "Timeless", "Gorgeous", "Clever",
    "Budget Friendly", "Trendy", "Chic", "Dreamy",
];
#[rustfmt::skip]
const AUDIENCES: [&str; 16] = [
    "Beginners", "Kids", "Busy Moms", "Small Spaces", "Every Budget", "The Holidays", "Teachers",
    "Students", "Weekends", "Date Night", "Your Next Trip", "Any Occasion", "Couples", "Families",
    "Summer", "Fall",
];
#[rustfmt::skip]
const VERBS: [&str; 12] = [
    "Make", "Create", "Choose", "Style", "Plan", "Design", "Find", "Organize", "Build", "Draw",
    "Paint", "Start",
];
#[rustfmt::skip]
const NUMBERS: [&str; 18] = [
    "3", "5", "7", "10", "11", "12", "15", "20", "21", "25", "30", "35", "40", "50", "55", "60",
    "75", "100",
];
#[rustfmt::skip]
const PLACES: [&str; 12] = [
    "home", "kitchen", "classroom", "wardrobe", "weekend", "routine", "living room", "collection",
    "garage", "next trip", "walls", "budget",
];
#[rustfmt::skip]
const TAG_TAILS: [&str; 10] = [
    "Ideas", "Diy", "For Kids", "Inspiration", "Design", "Tips", "Aesthetic", "Projects",
    "Photography", "Style",
];
#[rustfmt::skip]
const BRAND_NOUNS: [&str; 35] = [
    "Nest", "Nook", "Pine", "Maple", "Sparrow", "Lantern", "Harbor", "Willow", "Meadow", "Ember",
    "Cottage", "Atelier", "Corner", "Garden", "Canvas", "Compass", "Thread", "Honey", "Fern",
    "Ridge", "Cove", "Orchard", "Bloom", "Attic", "Pantry", "Hollow", "Quill", "Crate", "Acorn",
    "Sunday", "Magnolia", "Juniper", "Pebble", "Wander", "Spark",
];
#[rustfmt::skip]
const BRAND_KINDS: [&str; 16] = [
    "Blog", "Studio", "Co.", "Magazine", "Journal", "Collective", "Shop", "Daily", "Life", "Lab",
    "Guide", "Diaries", "Designs", "Creations", "Living", "Media",
];

/// About a quarter start with a number and about one in nine carries typographic Unicode,
/// like the real titles.
const TITLE_TEMPLATES: [&str; 31] = [
    "{n} {A} {S} Ideas",
    "{n} {A} {S} for {P}",
    "{n} {S} You Need to Try This Year",
    "{n} {A} {S} That Will Make You Smile",
    "{n} Best {S} to Save Right Now",
    "{n} Genius {S} Hacks Everyone Should Know",
    "{n} {S}",
    "How to {V} {A} {S}",
    "How to {V} {S} on a Budget",
    "{A} {S} for {P}",
    "{A} {S}",
    "{S}",
    "The Best {S} of the Year",
    "{A} and {A} {S}",
    "Everything You Need to Know About {S}",
    "{S}: {A} Ideas for {P}",
    "My {A} {S} Tutorial",
    "{S} Inspiration",
    "Don\u{2019}t Miss These {A} {S}",
    "{A} {S} \u{2014} Ideas for {P}",
    "Why Everyone Is Obsessed With {A} {S}",
    "{A} {S} Made Easy",
    "Caf\u{e9} Style {S} for {P}",
    "{S} for {P} (Free Printable)",
    "The Ultimate Guide to {A} {S}",
    "{A} {S} Ideas You Will Love",
    "Simple Ways to {V} {S}",
    "{S}",
    "{S} Ideas",
    "My {S}",
    "{A} {S}",
];
const TITLE_EXTENSIONS: [&str; 10] = [
    " for {P}",
    " + Free Printable",
    " (Step by Step)",
    " That Are Easy to Make",
    " on a Budget",
    " You Will Love",
    " to Try This Weekend",
    ": {n} {A} Ideas",
    " and More",
    " Anyone Can Do",
];
const SENTENCES: [&str; 24] = [
    "These {a} {s} are perfect for {p}.",
    "Looking for {a} {s}? We rounded up {n} of our favorites.",
    "Learn how to {v} {a} {s} in just a few simple steps.",
    "Find the best {s} for every budget and style.",
    "Save this pin for later and follow us for more {s}!",
    "Get inspired with {n} {a} {s} you will love.",
    "Our step by step guide to {s} makes it easy for beginners.",
    "From {a} {s} to {a} ideas, there is something here for everyone.",
    "It\u{2019}s the easiest way to add a {a} touch to your {w}.",
    "Do not miss these {a} {s}, they are trending right now.",
    "Click through for the full tutorial and a free printable.",
    "Discover {a} {s}, tips and tricks from real people.",
    "We love how {a} and {a} these {s} turned out.",
    "Whether you are just starting out or a pro, these {s} will help.",
    "Here are {n} {s} that will make your day better.",
    "Read more about {s} on the blog.",
    "Shop the look and get {n}% off today.",
    "I tried {n} {a} {s} and these are the ones I keep coming back to.",
    "The secret to {a} {s} is simpler than you think.",
    "Perfect for {p} and anyone who loves {s}.",
    "Pin it now, thank us later!",
    "Everything you need for {a} {s}, all in one place.",
    "Best {s} ideas for {p}.",
    "Love this {a} look for {p}.",
];
const SHORT_DESCRIPTIONS: [&str; 6] = [
    "{S}",
    "{A} {s}!",
    "#{h} #{h}",
    "{S} ideas",
    "So {a}!",
    "{A} {s} for {p}",
];
/// Deciles of the real non-truncated description lengths (characters).
const DESCRIPTION_KNOTS: [u32; 11] = [8, 41, 69, 92, 113, 127, 136, 144, 151, 156, 176];
/// Pinterest cut long descriptions at 177 characters and appended an ellipsis and a no-break
/// space; 39.5% of the real non-placeholder descriptions look like that.
const DESCRIPTION_CUT: usize = 177;

fn expand(template: &str, rng: &mut SplitMix64, cat: &Category, out: &mut String) {
    let mut rest = template;
    while let Some(p) = rest.find('{') {
        out.push_str(&rest[..p]);
        let code = rest.as_bytes()[p + 1];
        rest = &rest[p + 3..];
        match code {
            b'S' => out.push_str(rng.pick(&cat.subjects)),
            b's' => push_lower(out, rng.pick(&cat.subjects)),
            b'A' => out.push_str(rng.pick(&ADJECTIVES)),
            b'a' => push_lower(out, rng.pick(&ADJECTIVES)),
            b'P' => out.push_str(rng.pick(&AUDIENCES)),
            b'p' => push_lower(out, rng.pick(&AUDIENCES)),
            b'V' => out.push_str(rng.pick(&VERBS)),
            b'v' => push_lower(out, rng.pick(&VERBS)),
            b'n' => out.push_str(rng.pick(&NUMBERS)),
            b'w' => out.push_str(rng.pick(&PLACES)),
            b't' => out.push_str(cat.topic),
            b'h' => {
                for b in rng.pick(&cat.subjects).bytes().filter(|&b| b != b' ') {
                    out.push(b.to_ascii_lowercase() as char);
                }
            }
            _ => unreachable!("unknown template slot"),
        }
    }
    out.push_str(rest);
}

#[inline]
fn push_lower(out: &mut String, s: &str) {
    for b in s.bytes() {
        out.push(b.to_ascii_lowercase() as char);
    }
}

fn write_title(rng: &mut SplitMix64, cat: &Category, poster: SplitMix64, out: &mut String) {
    expand(rng.pick(&TITLE_TEMPLATES), rng, cat, out);
    for chance in [35, 12] {
        if rng.chance(chance, 100) {
            expand(rng.pick(&TITLE_EXTENSIONS), rng, cat, out);
        }
    }
    // 29% of real titles end with their source: " - Site", " | Site", sometimes an en dash.
    let r = rng.below(100);
    if r < 29 {
        out.push_str(match r {
            0..20 => " - ",
            20..27 => " | ",
            _ => " \u{2013} ",
        });
        write_poster(poster, cat, out);
    }
}

/// Poster names: people ("First Last") and blogs/brands, a few with long self-descriptions or
/// a trademark sign (about 2.5% of real names carry non-ASCII).
fn write_poster(mut rng: SplitMix64, cat: &Category, out: &mut String) {
    if rng.chance(40, 100) {
        out.push_str(rng.pick(&FIRST_NAMES));
        out.push(' ');
        out.push_str(rng.pick(&LAST_NAMES));
        if rng.chance(15, 100) {
            out.push_str(" | ");
            out.push_str(cat.topic);
        }
        return;
    }
    match rng.below(7) {
        0 => {
            out.push_str("The ");
            out.push_str(rng.pick(&ADJECTIVES));
            out.push(' ');
            out.push_str(rng.pick(&BRAND_NOUNS));
        }
        1 => {
            out.push_str(rng.pick(&ADJECTIVES));
            out.push_str(rng.pick(&BRAND_NOUNS));
        }
        2 => {
            out.push_str(rng.pick(&BRAND_NOUNS));
            out.push_str(" & ");
            out.push_str(rng.pick(&BRAND_NOUNS));
        }
        3 => {
            out.push_str(rng.pick(&ADJECTIVES));
            out.push(' ');
            out.push_str(rng.pick(&BRAND_NOUNS));
            out.push(' ');
            out.push_str(rng.pick(&BRAND_KINDS));
        }
        4 => {
            out.push_str(rng.pick(&FIRST_NAMES));
            out.push_str("'s ");
            out.push_str(rng.pick(&BRAND_NOUNS));
            out.push(' ');
            out.push_str(rng.pick(&BRAND_KINDS));
        }
        5 => {
            out.push_str(rng.pick(&FIRST_NAMES));
            out.push(' ');
            out.push_str(rng.pick(&LAST_NAMES));
            out.push_str(" - ");
            out.push_str(cat.topic);
            out.push(' ');
            out.push_str(rng.pick(&BRAND_KINDS));
        }
        _ => {
            out.push_str(rng.pick(&BRAND_NOUNS));
            out.push(' ');
            out.push_str(rng.pick(&BRAND_KINDS));
        }
    }
    let r = rng.below(100);
    if r < 20 {
        out.push_str(" | ");
        out.push_str(cat.topic);
        out.push_str(", Tips & Inspiration");
    } else if r < 24 {
        out.push(if r < 22 { '\u{2122}' } else { '\u{ae}' });
    }
}

fn write_description(rng: &mut SplitMix64, cat: &Category, out: &mut String) {
    if rng.chance(395, 1000) {
        while out.len() < DESCRIPTION_CUT + 40 {
            push_sentence(rng, cat, out);
        }
        if let Some((cut, _)) = out.char_indices().nth(DESCRIPTION_CUT) {
            out.truncate(cut);
        }
        out.truncate(out.trim_end().len());
        out.push_str("\u{2026}\u{a0}");
        return;
    }
    let target = quantile(&DESCRIPTION_KNOTS, rng) as usize;
    if target < 28 {
        expand(rng.pick(&SHORT_DESCRIPTIONS), rng, cat, out);
        return;
    }
    // Add sentences up to the target length, keeping whichever end is closer to it; never
    // reach the cut length, or the text would look truncated.
    let mut chars = 0;
    loop {
        let before = (out.len(), chars);
        push_sentence(rng, cat, out);
        chars = out.chars().count();
        if chars >= DESCRIPTION_CUT {
            out.truncate(before.0);
            break;
        }
        if chars >= target {
            if before.0 > 0 && chars - target > target - before.1 {
                out.truncate(before.0);
            }
            break;
        }
    }
    out.truncate(out.trim_end().len());
}

fn push_sentence(rng: &mut SplitMix64, cat: &Category, out: &mut String) {
    if !out.is_empty() {
        out.push(' ');
    }
    match rng.below(100) {
        // Hashtag runs (about 8% of real descriptions have them).
        0..3 => {
            for i in 0..2 + rng.below(3) {
                if i > 0 {
                    out.push(' ');
                }
                expand("#{h}", rng, cat, out);
            }
        }
        // Straight double quotes, so consumers see escaped characters.
        3 => expand(
            "Readers call it \"the {a} {s} guide\" for a reason.",
            rng,
            cat,
            out,
        ),
        _ => expand(rng.pick(&SENTENCES), rng, cat, out),
    }
}

/// 3 to 10 distinct tags, nearly always 9 (2,222 of the 2,226 real lists of a run).
fn write_tags(rng: &mut SplitMix64, cat: &Category, out: &mut String) {
    const COUNTS: [u32; 7] = [3, 4, 5, 6, 7, 8, 10];
    const STRIDES: [u32; 8] = [1, 2, 4, 7, 8, 11, 13, 14];
    let n = if rng.chance(995, 1000) {
        9
    } else {
        COUNTS[rng.below(7) as usize]
    };
    let start = rng.below(15);
    let stride = STRIDES[rng.below(8) as usize];
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let subject = cat.subjects[((start + i * stride) % 15) as usize];
        // Mostly the bare phrase: real tags average 16 characters.
        match rng.below(100) {
            0..70 => out.push_str(subject),
            70..82 => {
                out.push_str(rng.pick(&ADJECTIVES));
                out.push(' ');
                out.push_str(subject);
            }
            82..97 => {
                out.push_str(subject);
                out.push(' ');
                out.push_str(rng.pick(&TAG_TAILS));
            }
            _ => {
                out.push_str(rng.pick(&ADJECTIVES));
                out.push(' ');
                out.push_str(subject);
                out.push(' ');
                out.push_str(rng.pick(&TAG_TAILS));
            }
        }
    }
}

/// `https://i.pinimg.com/originals/ab/cd/ef/abcdef<26 more hex>.jpg` (the directories are the
/// hash's first bytes) or the video-thumbnail form.
fn push_image_src(out: &mut String, rng: &mut SplitMix64, video: bool) {
    let mut hash = [0u8; 32];
    push_hex(&mut hash[..16], rng.next_u64());
    push_hex(&mut hash[16..], rng.next_u64());
    let hash = std::str::from_utf8(&hash).expect("hex is ASCII");
    out.push_str(if video {
        "https://i.pinimg.com/videos/thumbnails/originals/"
    } else {
        "https://i.pinimg.com/originals/"
    });
    for d in 0..3 {
        out.push_str(&hash[2 * d..2 * d + 2]);
        out.push('/');
    }
    out.push_str(hash);
    out.push_str(if video {
        ".0000001.jpg"
    } else {
        // The real extension mix of image pins.
        match rng.below(1000) {
            0..840 => ".jpg",
            840..993 => ".png",
            993..998 => ".webp",
            _ => ".gif",
        }
    });
}

// ---------------------------------------------------------------------------------------------
// formatting

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(dst: &mut [u8], v: u64) {
    for (i, d) in dst.iter_mut().enumerate() {
        *d = HEX[((v >> (60 - 4 * i)) & 0xF) as usize];
    }
}

/// A random (version 4, RFC 4122 variant) UUID in its 8-4-4-4-12 form.
fn push_uuid(out: &mut String, rng: &mut SplitMix64) {
    let hi = (rng.next_u64() & !0xF000) | 0x4000;
    let lo = (rng.next_u64() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    let mut hex = [0u8; 32];
    push_hex(&mut hex[..16], hi);
    push_hex(&mut hex[16..], lo);
    let hex = std::str::from_utf8(&hex).expect("hex is ASCII");
    out.push_str(&hex[..8]);
    out.push('-');
    out.push_str(&hex[8..12]);
    out.push('-');
    out.push_str(&hex[12..16]);
    out.push('-');
    out.push_str(&hex[16..20]);
    out.push('-');
    out.push_str(&hex[20..]);
}

#[inline]
fn push_u32(out: &mut String, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).expect("digits are ASCII"));
}

#[inline]
fn push_2(out: &mut String, n: u32) {
    out.push((b'0' + (n / 10) as u8) as char);
    out.push((b'0' + (n % 10) as u8) as char);
}

/// A JSON string as Python's `json.dumps(ensure_ascii=False)` writes it: only `"`, `\` and
/// control characters are escaped; everything else, non-ASCII included, is written raw.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        // `b` is ASCII, so `i` is a char boundary.
        out.push_str(&s[start..i]);
        if escaped.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xF) as usize] as char);
        } else {
            out.push_str(escaped);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A coordinate (millionths of a degree) as the real files have them: the source floats had 6
/// significant digits and Python's repr drops trailing zeros but keeps one decimal.
fn push_coord(out: &mut String, micro: i32) {
    let mut m = micro.unsigned_abs();
    let step = match m {
        100_000_000.. => 1000,
        10_000_000.. => 100,
        1_000_000.. => 10,
        _ => 1,
    };
    m = (m + step / 2) / step * step;
    if micro < 0 && m != 0 {
        out.push('-');
    }
    push_u32(out, m / 1_000_000);
    out.push('.');
    let mut frac = m % 1_000_000;
    if frac == 0 {
        out.push('0');
        return;
    }
    let mut width = 6;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    let mut digits = [b'0'; 6];
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[..width]).expect("digits are ASCII"));
}

/// `YYYY-MM-DD HH:MM:SS` (Python's `str(datetime)`), from seconds since the Unix epoch.
fn push_datetime(out: &mut String, secs: i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    push_u32(out, y as u32);
    out.push('-');
    push_2(out, m);
    out.push('-');
    push_2(out, d);
    out.push(' ');
    push_2(out, s / 3600);
    out.push(':');
    push_2(out, s / 60 % 60);
    out.push(':');
    push_2(out, s % 60);
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

// ---------------------------------------------------------------------------------------------
// static lists: public country and common-name lists, sorted (the minimum-of-draws skew of the
// entities relies on alphabetical order) and free of characters JSON would escape.

#[rustfmt::skip]
const COUNTRIES: [&str; 250] = [
    "Afghanistan", "Aland Islands", "Albania", "Algeria", "American Samoa", "Andorra", "Angola",
    "Anguilla", "Antarctica", "Antigua and Barbuda", "Argentina", "Armenia", "Aruba", "Australia",
    "Austria", "Azerbaijan", "Bahamas", "Bahrain", "Bangladesh", "Barbados", "Belarus", "Belgium",
    "Belize", "Benin", "Bermuda", "Bhutan", "Bolivia", "Bonaire", "Bosnia and Herzegovina",
    "Botswana", "Bouvet Island", "Brazil", "British Indian Ocean Territory",
    "British Virgin Islands", "Brunei", "Bulgaria", "Burkina Faso", "Burundi", "Cabo Verde",
    "Cambodia", "Cameroon", "Canada", "Cayman Islands", "Central African Republic", "Chad", "Chile",
    "China", "Christmas Island", "Cocos (Keeling) Islands", "Colombia", "Comoros", "Congo",
    "Cook Islands", "Costa Rica", "Cote d'Ivoire", "Croatia", "Cuba", "Curacao", "Cyprus",
    "Czech Republic", "Democratic Republic of the Congo", "Denmark", "Djibouti", "Dominica",
    "Dominican Republic", "Ecuador", "Egypt", "El Salvador", "Equatorial Guinea", "Eritrea",
    "Estonia", "Eswatini", "Ethiopia", "Falkland Islands", "Faroe Islands", "Fiji", "Finland",
    "France", "French Guiana", "French Polynesia", "French Southern Territories", "Gabon", "Gambia",
    "Georgia", "Germany", "Ghana", "Gibraltar", "Greece", "Greenland", "Grenada", "Guadeloupe",
    "Guam", "Guatemala", "Guernsey", "Guinea", "Guinea-Bissau", "Guyana", "Haiti",
    "Heard Island and McDonald Islands", "Holy See", "Honduras", "Hong Kong", "Hungary", "Iceland",
    "India", "Indonesia", "Iran", "Iraq", "Ireland", "Isle of Man", "Israel", "Italy", "Jamaica",
    "Japan", "Jersey", "Jordan", "Kazakhstan", "Kenya", "Kiribati", "Kosovo", "Kuwait",
    "Kyrgyzstan", "Laos", "Latvia", "Lebanon", "Lesotho", "Liberia", "Libya", "Liechtenstein",
    "Lithuania", "Luxembourg", "Macao", "Madagascar", "Malawi", "Malaysia", "Maldives", "Mali",
    "Malta", "Marshall Islands", "Martinique", "Mauritania", "Mauritius", "Mayotte", "Mexico",
    "Micronesia", "Moldova", "Monaco", "Mongolia", "Montenegro", "Montserrat", "Morocco",
    "Mozambique", "Myanmar", "Namibia", "Nauru", "Nepal", "Netherlands", "New Caledonia",
    "New Zealand", "Nicaragua", "Niger", "Nigeria", "Niue", "Norfolk Island", "North Korea",
    "North Macedonia", "Northern Mariana Islands", "Norway", "Oman", "Pakistan", "Palau",
    "Palestine", "Panama", "Papua New Guinea", "Paraguay", "Peru", "Philippines",
    "Pitcairn Islands", "Poland", "Portugal", "Puerto Rico", "Qatar", "Reunion", "Romania",
    "Russia", "Rwanda", "Saint Barthelemy", "Saint Helena", "Saint Kitts and Nevis", "Saint Lucia",
    "Saint Martin", "Saint Pierre and Miquelon", "Saint Vincent and the Grenadines", "Samoa",
    "San Marino", "Sao Tome and Principe", "Saudi Arabia", "Senegal", "Serbia", "Seychelles",
    "Sierra Leone", "Singapore", "Sint Maarten", "Slovakia", "Slovenia", "Solomon Islands",
    "Somalia", "South Africa", "South Georgia and the South Sandwich Islands", "South Korea",
    "South Sudan", "Spain", "Sri Lanka", "Sudan", "Suriname", "Svalbard and Jan Mayen", "Sweden",
    "Switzerland", "Syria", "Taiwan", "Tajikistan", "Tanzania", "Thailand", "Timor-Leste", "Togo",
    "Tokelau", "Tonga", "Trinidad and Tobago", "Tunisia", "Turkey", "Turkmenistan",
    "Turks and Caicos Islands", "Tuvalu", "Uganda", "Ukraine", "United Arab Emirates",
    "United Kingdom", "United States", "United States Minor Outlying Islands",
    "United States Virgin Islands", "Uruguay", "Uzbekistan", "Vanuatu", "Venezuela", "Vietnam",
    "Wallis and Futuna", "Western Sahara", "Yemen", "Zambia", "Zimbabwe",
];
#[rustfmt::skip]
const FIRST_NAMES: [&str; 220] = [
    "Aaron", "Abigail", "Adam", "Adrian", "Alan", "Albert", "Alexander", "Alexandra", "Alexis",
    "Alice", "Alicia", "Allison", "Alyssa", "Amanda", "Amber", "Amy", "Andrea", "Andrew", "Angela",
    "Anna", "Anne", "Anthony", "Antonio", "Ashley", "Austin", "Barbara", "Benjamin", "Beth",
    "Betty", "Blake", "Bobby", "Bradley", "Brandon", "Brenda", "Brian", "Brittany", "Brooke",
    "Bruce", "Bryan", "Caleb", "Carl", "Carlos", "Carol", "Caroline", "Carrie", "Catherine", "Chad",
    "Charles", "Chelsea", "Cheryl", "Christian", "Christina", "Christine", "Christopher", "Cindy",
    "Claire", "Cody", "Colin", "Connor", "Corey", "Courtney", "Craig", "Crystal", "Cynthia", "Dale",
    "Dana", "Daniel", "Danielle", "David", "Dawn", "Deborah", "Dennis", "Derek", "Diana", "Diane",
    "Donald", "Donna", "Dorothy", "Douglas", "Dylan", "Edward", "Elizabeth", "Ellen", "Emily",
    "Emma", "Eric", "Erica", "Erin", "Ethan", "Eugene", "Evan", "Frank", "Gabriel", "Gary",
    "George", "Gina", "Grace", "Gregory", "Hannah", "Harold", "Heather", "Helen", "Henry", "Holly",
    "Ian", "Isaac", "Jack", "Jacob", "Jacqueline", "James", "Jamie", "Jane", "Janet", "Jason",
    "Jeffrey", "Jennifer", "Jeremy", "Jesse", "Jessica", "Joan", "Joe", "John", "Jonathan",
    "Jordan", "Joseph", "Joshua", "Joyce", "Juan", "Julia", "Julie", "Justin", "Karen", "Katherine",
    "Kathleen", "Kathryn", "Kayla", "Keith", "Kelly", "Kenneth", "Kevin", "Kimberly", "Kristen",
    "Kyle", "Laura", "Lauren", "Lawrence", "Leah", "Linda", "Lisa", "Logan", "Lori", "Luis",
    "Madison", "Marcus", "Margaret", "Maria", "Marie", "Mark", "Martha", "Mary", "Matthew", "Megan",
    "Melissa", "Michael", "Michelle", "Monica", "Nancy", "Natalie", "Nathan", "Nicholas", "Nicole",
    "Noah", "Olivia", "Pamela", "Patricia", "Patrick", "Paul", "Peter", "Philip", "Rachel",
    "Raymond", "Rebecca", "Richard", "Robert", "Robin", "Ronald", "Ruth", "Ryan", "Samantha",
    "Samuel", "Sandra", "Sara", "Sarah", "Scott", "Sean", "Sharon", "Shawn", "Sophia", "Stephanie",
    "Stephen", "Steven", "Susan", "Tammy", "Tanya", "Taylor", "Teresa", "Thomas", "Tiffany",
    "Timothy", "Todd", "Tracy", "Tyler", "Valerie", "Vanessa", "Victoria", "Vincent", "Walter",
    "Wayne", "William", "Zachary",
];
#[rustfmt::skip]
const LAST_NAMES: [&str; 218] = [
    "Abbott", "Acosta", "Adams", "Aguilar", "Alexander", "Allen", "Alvarez", "Anderson", "Andrews",
    "Armstrong", "Austin", "Bailey", "Baker", "Banks", "Barnes", "Barnett", "Bates", "Bell",
    "Bennett", "Berry", "Bishop", "Black", "Bowman", "Boyd", "Bradley", "Brooks", "Brown", "Bryant",
    "Burke", "Burns", "Butler", "Campbell", "Carlson", "Carpenter", "Carr", "Carroll", "Carter",
    "Castillo", "Chapman", "Chavez", "Clark", "Cole", "Coleman", "Collins", "Cook", "Cooper", "Cox",
    "Crawford", "Cruz", "Cunningham", "Daniels", "Davis", "Dean", "Diaz", "Dixon", "Douglas",
    "Duncan", "Dunn", "Edwards", "Elliott", "Ellis", "Evans", "Ferguson", "Fisher", "Fleming",
    "Flores", "Ford", "Foster", "Fowler", "Fox", "Franklin", "Freeman", "Garcia", "Gardner",
    "Garza", "Gibson", "Gomez", "Gonzalez", "Gordon", "Graham", "Grant", "Gray", "Green", "Greene",
    "Griffin", "Hall", "Hamilton", "Hansen", "Harper", "Harris", "Hart", "Harvey", "Hawkins",
    "Hayes", "Henderson", "Henry", "Hernandez", "Hicks", "Hill", "Hoffman", "Holmes", "Howard",
    "Hudson", "Hughes", "Hunt", "Hunter", "Jackson", "James", "Jenkins", "Johnson", "Jones",
    "Jordan", "Kelly", "Kennedy", "Kim", "King", "Knight", "Lane", "Lawrence", "Lee", "Lewis",
    "Long", "Lopez", "Marshall", "Martin", "Martinez", "Mason", "Matthews", "Mcdonald", "Meyer",
    "Miller", "Mills", "Mitchell", "Moore", "Morales", "Morgan", "Morris", "Murphy", "Murray",
    "Myers", "Nelson", "Nguyen", "Nichols", "Olson", "Ortiz", "Owens", "Palmer", "Parker", "Patel",
    "Patterson", "Payne", "Perez", "Perkins", "Perry", "Peters", "Peterson", "Phillips", "Pierce",
    "Porter", "Powell", "Price", "Ramirez", "Ramos", "Reed", "Reyes", "Reynolds", "Rice",
    "Richards", "Richardson", "Riley", "Rivera", "Roberts", "Robinson", "Rodriguez", "Rogers",
    "Rose", "Ross", "Ruiz", "Russell", "Sanchez", "Sanders", "Schmidt", "Scott", "Shaw", "Simmons",
    "Simpson", "Smith", "Snyder", "Spencer", "Stephens", "Stevens", "Stewart", "Stone", "Sullivan",
    "Taylor", "Thomas", "Thompson", "Torres", "Tucker", "Turner", "Walker", "Wallace", "Walsh",
    "Ward", "Warren", "Washington", "Watson", "Weaver", "Webb", "Wells", "West", "White",
    "Williams", "Willis", "Wilson", "Wood", "Wright", "Young",
];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};

    const PIN_KEYS: [&str; 12] = [
        "index",
        "unique_id",
        "title",
        "description",
        "poster_name",
        "follower_count",
        "tag_list",
        "is_image_or_video",
        "image_src",
        "downloaded",
        "save_location",
        "category",
    ];
    const GEO_KEYS: [&str; 5] = ["ind", "timestamp", "latitude", "longitude", "country"];
    const USER_KEYS: [&str; 5] = ["ind", "first_name", "last_name", "age", "date_joined"];
    const STORY: &str = "multi-video(story page format)";
    const NO_TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";

    /// Re-serializes like Python's `json.dumps(ensure_ascii=False)`: given key order, ", " and
    /// ": " separators. A line equal to this has exactly the real files' layout and escaping.
    fn python_dumps(v: &Value, keys: &[&str]) -> String {
        let obj = v.as_object().expect("a JSON object");
        assert_eq!(obj.len(), keys.len(), "unexpected keys in {obj:?}");
        let mut s = String::from("{");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&serde_json::to_string(k).unwrap());
            s.push_str(": ");
            s.push_str(&serde_json::to_string(&obj[*k]).unwrap());
        }
        s.push('}');
        s
    }

    fn parse(line: &str, keys: &[&str]) -> Value {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(
            python_dumps(&v, keys),
            line,
            "layout differs from json.dumps"
        );
        v
    }

    fn s<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
    }

    fn int(v: &Value, key: &str) -> u64 {
        v[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
    }

    fn datetime(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn follower_format(f: &str) -> &'static str {
        let (digits, suffix) = f.split_at(f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len()));
        match (digits.parse::<u32>().ok(), suffix) {
            _ if f == "User Info Error" => "placeholder",
            (Some(1..=999), "k") => "Nk",
            (Some(0..=999), "") if digits == "0" || !digits.starts_with('0') => "digits",
            (Some(1..=15), "M") => "NM",
            _ => panic!("bad follower_count {f:?}"),
        }
    }

    fn age_bucket(age: u64) -> usize {
        match age {
            18..=24 => 0,
            25..=35 => 1,
            36..=50 => 2,
            _ => 3,
        }
    }

    fn share(n: usize, total: usize) -> f64 {
        n as f64 / total as f64
    }

    fn assert_near(what: &str, got: f64, want: f64, tolerance: f64) {
        assert!(
            (got - want).abs() <= tolerance,
            "{what}: got {got:.4}, want {want:.4} +- {tolerance}"
        );
    }

    #[test]
    fn same_seed_same_output() {
        let a: Vec<Triple> = Generator::new(42).take(2_000).collect();
        let b: Vec<Triple> = Generator::new(42).take(2_000).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn different_seeds_differ() {
        let mut a = Generator::new(1);
        let mut b = Generator::new(2);
        let (ta, tb): (Vec<Triple>, Vec<Triple>) =
            (0..200).map(|_| (a.next_triple(), b.next_triple())).unzip();
        assert_ne!(
            ta.iter().map(|t| t.index).collect::<Vec<_>>(),
            tb.iter().map(|t| t.index).collect::<Vec<_>>()
        );
        // The tables differ too, not only the send order.
        let (ra, rb) = (a.triple_at(123), b.triple_at(123));
        assert_ne!(ra.pin, rb.pin);
        assert_ne!(ra.geo, rb.geo);
        assert_eq!(
            ra.pin.split("\"category\"").nth(1),
            rb.pin.split("\"category\"").nth(1),
            "blocks are fixed"
        );
    }

    #[test]
    fn same_index_same_rows() {
        let mut g = Generator::new(9);
        let mut seen: HashMap<u32, Triple> = HashMap::new();
        let mut repeats = 0;
        for _ in 0..6_000 {
            let t = g.next_triple();
            if let Some(first) = seen.get(&t.index) {
                assert_eq!(first, &t, "index {} changed between sends", t.index);
                repeats += 1;
            } else {
                seen.insert(t.index, t);
            }
        }
        assert!(repeats > 1_000, "only {repeats} repeated indexes");
        // Generating a row directly, out of send order, gives the same bytes.
        let (&index, expected) = seen.iter().next().unwrap();
        assert_eq!(&Generator::new(9).triple_at(index), expected);
    }

    #[test]
    fn lines_are_python_json_with_expected_keys_and_types() {
        let ts_range = (
            datetime("2017-10-19 00:00:00"),
            datetime("2022-10-20 00:00:00"),
        );
        let dj_range = (
            datetime("2015-10-21 00:00:00"),
            datetime("2017-10-21 00:00:00"),
        );
        for t in Generator::new(3).take(5_000) {
            for line in [&t.pin, &t.geo, &t.user] {
                assert!(!line.contains('\n') && !line.contains("\\u"), "{line}");
            }
            let pin = parse(&t.pin, &PIN_KEYS);
            let geo = parse(&t.geo, &GEO_KEYS);
            let user = parse(&t.user, &USER_KEYS);
            assert!(t.index < ROWS);
            assert_eq!(int(&pin, "index"), u64::from(t.index));
            assert_eq!(int(&geo, "ind"), u64::from(t.index));
            assert_eq!(int(&user, "ind"), u64::from(t.index));

            let id = s(&pin, "unique_id");
            let groups: Vec<&str> = id.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{id}"
            );
            assert!(
                id.bytes()
                    .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert!(
                groups[2].starts_with('4') && matches!(&groups[3][..1], "8" | "9" | "a" | "b"),
                "{id}"
            );

            for key in ["title", "description", "poster_name", "tag_list"] {
                assert!(!s(&pin, key).is_empty(), "empty {key}");
            }
            follower_format(s(&pin, "follower_count"));
            let tags = s(&pin, "tag_list");
            if tags != NO_TAGS {
                let tags: Vec<&str> = tags.split(',').collect();
                assert!((3..=10).contains(&tags.len()), "{tags:?}");
                assert_eq!(
                    tags.iter().collect::<HashSet<_>>().len(),
                    tags.len(),
                    "duplicate tags {tags:?}"
                );
            }
            let media = s(&pin, "is_image_or_video");
            assert!(["image", "video", STORY].contains(&media));
            let src = s(&pin, "image_src");
            if src != "Image src error." {
                let rest = if media == "image" {
                    src.strip_prefix("https://i.pinimg.com/originals/")
                } else {
                    src.strip_prefix("https://i.pinimg.com/videos/thumbnails/originals/")
                }
                .unwrap_or_else(|| panic!("{media}: {src}"));
                let hash = &rest[9..41];
                assert_eq!(
                    &rest[..9],
                    format!("{}/{}/{}/", &hash[..2], &hash[2..4], &hash[4..6])
                );
                assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
            }
            assert!(int(&pin, "downloaded") <= 1);
            let category = s(&pin, "category");
            assert!(CATEGORIES.iter().any(|c| c.name == category));
            assert_eq!(
                s(&pin, "save_location"),
                format!("Local save in /data/{category}")
            );

            let ts = datetime(s(&geo, "timestamp"));
            assert!(ts >= ts_range.0 && ts < ts_range.1, "{ts}");
            let lat = geo["latitude"].as_f64().unwrap();
            let lon = geo["longitude"].as_f64().unwrap();
            assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
            for key in ["latitude", "longitude"] {
                let text = geo[key].to_string();
                let digits = text.trim_start_matches('-').replace('.', "");
                let significant = digits.trim_start_matches('0').trim_end_matches('0');
                assert!(significant.len() <= 6 && text.contains('.'), "{text}");
            }
            assert!(COUNTRIES.contains(&s(&geo, "country")));

            assert!(FIRST_NAMES.contains(&s(&user, "first_name")));
            assert!(LAST_NAMES.contains(&s(&user, "last_name")));
            assert!((20..=60).contains(&int(&user, "age")));
            let joined = datetime(s(&user, "date_joined"));
            assert!(joined >= dj_range.0 && joined < dj_range.1, "{joined}");
        }
    }

    /// Distribution checks over 20,000 sends against shared/spec/distributions.txt (the real
    /// table's shares; tolerances allow for sampling noise and per-seed table variation).
    #[test]
    fn statistics_match_the_real_tables() {
        const N: usize = 20_000;
        let mut categories: HashMap<String, usize> = HashMap::new();
        let mut formats: HashMap<&str, usize> = HashMap::new();
        let mut millions: HashMap<String, usize> = HashMap::new();
        let mut media: HashMap<String, usize> = HashMap::new();
        let (mut story_desc, mut no_desc, mut no_tags, mut image_error, mut downloaded) =
            (0, 0, 0, 0, 0);
        let mut truncated = 0;
        let mut ts_years = [0usize; 6];
        let mut joined_years = [0usize; 3];
        let mut ages = [0usize; 4];
        let mut early_countries = 0;
        let mut ts_min = datetime("2030-01-01 00:00:00");
        let mut ts_max = datetime("2000-01-01 00:00:00");
        let mut bytes = [0usize; 3];
        for t in Generator::new(2024).take(N) {
            bytes[0] += t.pin.len();
            bytes[1] += t.geo.len();
            bytes[2] += t.user.len();
            let pin: Value = serde_json::from_str(&t.pin).unwrap();
            let geo: Value = serde_json::from_str(&t.geo).unwrap();
            let user: Value = serde_json::from_str(&t.user).unwrap();
            *categories
                .entry(s(&pin, "category").to_owned())
                .or_default() += 1;
            let followers = s(&pin, "follower_count");
            let format = follower_format(followers);
            *formats.entry(format).or_default() += 1;
            if format == "NM" {
                *millions.entry(followers.to_owned()).or_default() += 1;
            }
            let kind = s(&pin, "is_image_or_video");
            *media.entry(kind.to_owned()).or_default() += 1;
            let description = s(&pin, "description");
            story_desc += usize::from(description == "No description available Story format");
            no_desc += usize::from(description == "No description available");
            truncated += usize::from(description.ends_with("\u{2026}\u{a0}"));
            no_tags += usize::from(s(&pin, "tag_list") == NO_TAGS);
            let broken = s(&pin, "image_src") == "Image src error.";
            image_error += usize::from(broken);
            downloaded += int(&pin, "downloaded") as usize;

            // Placeholder co-occurrence, as in the real table.
            if format == "placeholder" {
                assert_eq!(s(&pin, "title"), "No Title Data Available");
                assert_eq!(s(&pin, "poster_name"), "User Info Error");
                assert_eq!(description, "No description available Story format");
                assert_eq!(s(&pin, "tag_list"), NO_TAGS);
                assert!(broken);
                assert_eq!(int(&pin, "downloaded"), 0);
            } else {
                assert_ne!(s(&pin, "title"), "No Title Data Available");
                assert_ne!(s(&pin, "poster_name"), "User Info Error");
            }
            if broken {
                assert_eq!(kind, STORY);
                assert_eq!(int(&pin, "downloaded"), 0);
            }
            assert_eq!(
                kind == STORY,
                description == "No description available Story format"
            );
            if description == "No description available" {
                assert_ne!(kind, STORY);
            }

            let ts = datetime(s(&geo, "timestamp"));
            ts_min = ts_min.min(ts);
            ts_max = ts_max.max(ts);
            ts_years[s(&geo, "timestamp")[..4].parse::<usize>().unwrap() - 2017] += 1;
            let country = s(&geo, "country");
            early_countries +=
                usize::from(COUNTRIES.iter().position(|&c| c == country).unwrap() < 24);
            joined_years[s(&user, "date_joined")[..4].parse::<usize>().unwrap() - 2015] += 1;
            ages[age_bucket(int(&user, "age"))] += 1;
        }

        eprintln!(
            "average bytes: pin {} geo {} user {}",
            bytes[0] / N,
            bytes[1] / N,
            bytes[2] / N
        );
        assert!(
            (680..=790).contains(&(bytes[0] / N)),
            "pin average {}",
            bytes[0] / N
        );
        assert!(
            (105..=135).contains(&(bytes[1] / N)),
            "geo average {}",
            bytes[1] / N
        );
        assert!(
            (98..=122).contains(&(bytes[2] / N)),
            "user average {}",
            bytes[2] / N
        );

        for cat in &CATEGORIES {
            let want = f64::from(cat.weight) / f64::from(WEIGHT_TOTAL);
            assert_near(cat.name, share(categories[cat.name], N), want, 0.012);
        }
        // distributions.txt: Nk 3046, digits 931, NM 335, "User Info Error" 29 of 4,341 values.
        assert_near("Nk", share(formats["Nk"], N), 3046.0 / 4341.0, 0.02);
        assert_near("digits", share(formats["digits"], N), 931.0 / 4341.0, 0.015);
        assert_near("NM", share(formats["NM"], N), 335.0 / 4341.0, 0.012);
        assert_near(
            "User Info Error",
            share(formats["placeholder"], N),
            29.0 / 4341.0,
            0.003,
        );
        let nm = formats["NM"];
        assert_near("2M of NM", share(millions["2M"], nm), 141.0 / 335.0, 0.08);
        assert_near("5M of NM", share(millions["5M"], nm), 78.0 / 335.0, 0.07);
        assert_near("1M of NM", share(millions["1M"], nm), 58.0 / 335.0, 0.06);

        // distributions.txt: image 3885, story 344, video 129 of 4,358.
        assert_near("image", share(media["image"], N), 3885.0 / 4358.0, 0.015);
        assert_near("story", share(media[STORY], N), 344.0 / 4358.0, 0.012);
        assert_near("video", share(media["video"], N), 129.0 / 4358.0, 0.008);
        assert_near(
            "story description",
            share(story_desc, N),
            344.0 / 4358.0,
            0.012,
        );
        assert_near("no description", share(no_desc, N), 65.0 / 4359.0, 0.005);
        assert_near("no tags", share(no_tags, N), 61.0 / 4359.0, 0.005);
        assert_near(
            "image src error",
            share(image_error, N),
            98.0 / 4359.0,
            0.006,
        );
        assert_near("downloaded", share(downloaded, N), 4245.0 / 4359.0, 0.008);
        assert_near("truncated description", share(truncated, N), 0.36, 0.03);

        assert!(
            ts_min >= datetime("2017-10-19 00:00:00") && ts_max < datetime("2022-10-20 00:00:00")
        );
        // 2017 432, 2018 2316, 2019 2192, 2020 2172, 2021 2208, 2022 1834 of 11,154.
        for (i, want) in [432.0, 2316.0, 2192.0, 2172.0, 2208.0, 1834.0]
            .iter()
            .enumerate()
        {
            assert_near(
                &format!("timestamp year {}", 2017 + i),
                share(ts_years[i], N),
                want / 11154.0,
                0.012,
            );
        }
        // 2015 4507, 2016 4791, 2017 1856.
        for (i, want) in [4507.0, 4791.0, 1856.0].iter().enumerate() {
            assert_near(
                &format!("joined year {}", 2015 + i),
                share(joined_years[i], N),
                want / 11154.0,
                0.035,
            );
        }
        // 18-24 4916, 25-35 3005, 36-50 2225, 50+ 1008.
        for (i, want) in [4916.0, 3005.0, 2225.0, 1008.0].iter().enumerate() {
            assert_near(
                &format!("age bucket {i}"),
                share(ages[i], N),
                want / 11154.0,
                0.03,
            );
        }
        // The first tenth of the alphabet holds 41% of the real rows (4562 of 11,154).
        assert_near(
            "early countries",
            share(early_countries, N),
            4562.0 / 11154.0,
            0.05,
        );
    }

    #[test]
    fn distinct_index_ratio_matches_a_real_run() {
        // The real run: 2,262 sends, 2,019 distinct indexes. Uniform draws give ~2,047.
        for seed in 0..5 {
            let distinct: HashSet<u32> =
                Generator::new(seed).take(2_262).map(|t| t.index).collect();
            assert!(
                (1_990..=2_100).contains(&distinct.len()),
                "seed {seed}: {}",
                distinct.len()
            );
        }
        let max = Generator::new(1)
            .take(200_000)
            .map(|t| t.index)
            .max()
            .unwrap();
        assert_eq!(max, ROWS - 1);
    }

    #[test]
    fn static_lists_are_sorted_and_plain() {
        for list in [&COUNTRIES[..], &FIRST_NAMES[..], &LAST_NAMES[..]] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "not sorted: {list:?}");
            assert!(list.len() <= 255, "indexes are stored as u8");
            assert!(list.iter().all(|s| {
                s.bytes()
                    .all(|b| b.is_ascii() && b >= 0x20 && b != b'"' && b != b'\\')
            }));
        }
        assert!((235..=250).contains(&COUNTRIES.len()));
        assert!(CATEGORIES.windows(2).all(|w| w[0].name < w[1].name));
        for cat in &CATEGORIES {
            let distinct: HashSet<&str> = cat.subjects.iter().copied().collect();
            assert_eq!(distinct.len(), 15, "{}", cat.name);
        }
        assert_eq!(BLOCK_END[12], ROWS);
    }

    #[test]
    fn group_table_covers_every_row() {
        let rows: u32 = GROUP_SIZES
            .iter()
            .map(|&(size, n)| u32::from(size) * u32::from(n))
            .sum();
        let groups: usize = GROUP_SIZES.iter().map(|&(_, n)| usize::from(n)).sum();
        assert_eq!((rows, groups), (ROWS, ENTITIES));
        let g = Generator::new(5);
        assert_eq!(g.entity_of.len(), ROWS as usize);
        assert_eq!(g.entities.len(), ENTITIES);
        // The biggest group really is shared by 244 indexes, with identical user rows.
        let mut members: HashMap<u16, Vec<u32>> = HashMap::new();
        for (i, &e) in g.entity_of.iter().enumerate() {
            members.entry(e).or_default().push(i as u32);
        }
        let biggest = members.values().max_by_key(|m| m.len()).unwrap();
        assert_eq!(biggest.len(), 244);
        let user = |i: u32| {
            let mut s = String::new();
            g.write_user(i, &mut s);
            s.split_once(", ").unwrap().1.to_owned()
        };
        assert!(biggest.iter().all(|&i| user(i) == user(biggest[0])));
    }

    #[test]
    fn datetime_formatting_matches_chrono() {
        let mut rng = SplitMix64(77);
        for _ in 0..20_000 {
            let secs = i64::from(rng.below(u32::MAX)) - 100_000_000;
            let mut s = String::new();
            push_datetime(&mut s, secs);
            let expected = chrono::DateTime::from_timestamp(secs, 0)
                .unwrap()
                .naive_utc();
            assert_eq!(s, expected.format("%Y-%m-%d %H:%M:%S").to_string());
            assert_eq!(civil_from_days(days_from_civil(2016, 2, 29)), (2016, 2, 29));
        }
        let mut s = String::new();
        push_datetime(&mut s, TS_LO);
        assert_eq!(s, "2017-10-19 12:00:00");
    }

    #[test]
    fn coordinates_are_formatted_like_python_floats() {
        let cases = [
            (-89_978_700, "-89.9787"),
            (-173_293_000, "-173.293"),
            (-375_174, "-0.375174"),
            (-75_300_000, "-75.3"),
            (49_810_640, "49.8106"),
            (-173_293_499, "-173.293"),
            (-99_999_960, "-100.0"),
            (-89_000_000, "-89.0"),
            (0, "0.0"),
            (-4, "-0.000004"),
            (179_999_999, "180.0"),
        ];
        for (micro, text) in cases {
            let mut s = String::new();
            push_coord(&mut s, micro);
            assert_eq!(s, text, "{micro}");
        }
    }

    #[test]
    fn json_strings_are_escaped_like_python() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\nd\u{1}\u{2026}\u{a0}\u{7f}");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001\u{2026}\u{a0}\u{7f}\"");
        assert_eq!(
            serde_json::from_str::<String>(&s).unwrap(),
            "a\"b\\c\nd\u{1}\u{2026}\u{a0}\u{7f}"
        );
    }
}
