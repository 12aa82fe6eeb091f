"""Constants of the cleaning contract (spec/cleaning.md) that every Python reading of it shares:
the table checker here and the benchmark peers in benches/peers. Imports nothing heavy, so a
peer's measured start-up stays its own."""

# Values the original pipeline replaced with null.
PLACEHOLDERS = (
    "No description available Story format",
    "No description available",
    "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
    "User Info Error",
    "No Title Data Available",
    "Image src error.",
    "",
)
SAVE_LOCATION_PREFIX = "Local save in "

# The raw records' keys, per table, as the original producers send them.
RAW_COLUMNS = {
    "pin": ["index", "unique_id", "title", "description", "poster_name", "follower_count", "tag_list",
            "is_image_or_video", "image_src", "downloaded", "save_location", "category"],
    "geo": ["ind", "timestamp", "latitude", "longitude", "country"],
    "user": ["ind", "first_name", "last_name", "age", "date_joined"],
}
