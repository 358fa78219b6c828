// The page's limits (fera.images.MAX_PIXELS: larger photos are refused before they are worked on).
export const MAX_PIXELS = 40_000_000;
export const MAX_FPS = 15;
