//! The words products are made of: categories, brands and styles.
//!
//! Tags are drawn from these lists, so recommendations have overlapping
//! interests to work with, and product names read like a real shop's.

/// Top-level categories; every product has exactly one.
pub const CATEGORIES: &[&str] = &[
    "electronics",
    "fashion",
    "home",
    "beauty",
    "sports",
    "books",
    "toys",
    "grocery",
    "garden",
    "automotive",
    "music",
    "health",
];

/// Product kinds per category (same order as [`CATEGORIES`]).
pub const KINDS: &[&[&str]] = &[
    &["phone", "laptop", "headphones", "camera", "tablet", "smartwatch"],
    &["sneakers", "jacket", "dress", "jeans", "handbag", "scarf"],
    &["lamp", "sofa", "rug", "kettle", "blender", "pillow"],
    &["lipstick", "serum", "perfume", "shampoo", "moisturizer", "mascara"],
    &["yoga-mat", "dumbbell", "bicycle", "tent", "racket", "running-shorts"],
    &["novel", "cookbook", "biography", "comic", "atlas", "textbook"],
    &["puzzle", "lego-set", "doll", "drone", "board-game", "plush"],
    &["coffee", "tea", "olive-oil", "chocolate", "pasta", "granola"],
    &["hose", "planter", "shovel", "seeds", "grill", "lawnmower"],
    &["tyre", "dashcam", "wiper", "car-charger", "seat-cover", "jump-starter"],
    &["guitar", "keyboard", "vinyl", "microphone", "ukulele", "speaker"],
    &["vitamins", "thermometer", "massager", "first-aid-kit", "scale", "protein"],
];

/// Brands; most products carry one as a tag.
pub const BRANDS: &[&str] = &[
    "acme", "nordwind", "lumen", "verdant", "kestrel", "orbit", "solace", "tundra", "aurora",
    "mosaic", "pioneer", "zephyr", "harbor", "quartz", "ember", "atlas", "willow", "summit",
    "cobalt", "juniper",
];

/// Style and audience tags added to some products.
pub const STYLES: &[&str] = &[
    "premium",
    "budget",
    "eco",
    "vintage",
    "minimalist",
    "outdoor",
    "kids",
    "professional",
    "travel",
    "wireless",
    "handmade",
    "limited-edition",
    "bestseller",
    "new-arrival",
];
