/* Tests only: an LD_PRELOAD library for xdg-desktop-portal-wlr 0.7
 * (Debian 12) on a compositor without a GPU.
 *
 * xdpw 0.7 starts a screencast only once screencopy has announced a
 * DMA-BUF format for the frame (a version check that is wrong, fixed in
 * 0.8), and sway on the pixman renderer announces none. This library
 * wraps the listener xdpw sets on each zwlr_screencopy_frame_v1 and, after
 * every `buffer` event (shared memory), makes up a matching `linux_dmabuf`
 * event. Without a GPU xdpw has no GBM device, so it still hands PipeWire
 * shared-memory buffers: the made-up format is never used.
 *
 * The test kit builds it with cc (tests/src/wayland.rs). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct wl_proxy;
/* From libwayland-client, already loaded in xdpw. */
const char *wl_proxy_get_class(struct wl_proxy *proxy);
uint32_t wl_proxy_get_version(struct wl_proxy *proxy);

typedef void (*event_fn)(void);

/* zwlr_screencopy_frame_v1's events, in protocol order (version 3). */
enum { BUFFER, FLAGS, READY, FAILED, DAMAGE, LINUX_DMABUF, BUFFER_DONE, EVENTS };

struct wrapped {
	const event_fn *events; /* xdpw's listener */
	void *data;             /* xdpw's user data */
};

/* wl_shm formats 0 and 1 are the DRM fourccs below; the others are
 * already fourccs. */
static uint32_t drm_format(uint32_t shm_format) {
	if (shm_format == 0) return 0x34325241u; /* AR24 */
	if (shm_format == 1) return 0x34325258u; /* XR24 */
	return shm_format;
}

static void on_buffer(void *data, struct wl_proxy *frame, uint32_t format,
		      uint32_t width, uint32_t height, uint32_t stride) {
	struct wrapped *w = data;
	((void (*)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t, uint32_t))
		 w->events[BUFFER])(w->data, frame, format, width, height, stride);
	if (wl_proxy_get_version(frame) >= 3 && w->events[LINUX_DMABUF])
		((void (*)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t))
			 w->events[LINUX_DMABUF])(w->data, frame, drm_format(format), width, height);
}

/* The other events go to xdpw unchanged, with its own user data. */
static void on_flags(void *data, struct wl_proxy *frame, uint32_t flags) {
	struct wrapped *w = data;
	((void (*)(void *, struct wl_proxy *, uint32_t))w->events[FLAGS])(w->data, frame, flags);
}
static void on_ready(void *data, struct wl_proxy *frame, uint32_t hi, uint32_t lo, uint32_t ns) {
	struct wrapped *w = data;
	((void (*)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t))w->events[READY])(
		w->data, frame, hi, lo, ns);
}
static void on_failed(void *data, struct wl_proxy *frame) {
	struct wrapped *w = data;
	((void (*)(void *, struct wl_proxy *))w->events[FAILED])(w->data, frame);
}
static void on_damage(void *data, struct wl_proxy *frame, uint32_t x, uint32_t y, uint32_t width,
		      uint32_t height) {
	struct wrapped *w = data;
	if (w->events[DAMAGE])
		((void (*)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t, uint32_t))
			 w->events[DAMAGE])(w->data, frame, x, y, width, height);
}
static void on_linux_dmabuf(void *data, struct wl_proxy *frame, uint32_t format, uint32_t width,
			    uint32_t height) {
	struct wrapped *w = data;
	if (w->events[LINUX_DMABUF])
		((void (*)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t))
			 w->events[LINUX_DMABUF])(w->data, frame, format, width, height);
}
static void on_buffer_done(void *data, struct wl_proxy *frame) {
	struct wrapped *w = data;
	if (w->events[BUFFER_DONE])
		((void (*)(void *, struct wl_proxy *))w->events[BUFFER_DONE])(w->data, frame);
}

static const event_fn ours[EVENTS] = {
	(event_fn)on_buffer, (event_fn)on_flags,        (event_fn)on_ready,
	(event_fn)on_failed, (event_fn)on_damage,       (event_fn)on_linux_dmabuf,
	(event_fn)on_buffer_done,
};

/* xdpw runs grim for screenshots: grim must not load this library. */
__attribute__((constructor)) static void not_for_children(void) { unsetenv("LD_PRELOAD"); }

int wl_proxy_add_listener(struct wl_proxy *proxy, event_fn *events, void *data) {
	static int (*next)(struct wl_proxy *, event_fn *, void *);
	if (!next) next = (int (*)(struct wl_proxy *, event_fn *, void *))dlsym(RTLD_NEXT, "wl_proxy_add_listener");
	if (strcmp(wl_proxy_get_class(proxy), "zwlr_screencopy_frame_v1") != 0)
		return next(proxy, events, data);
	/* One per frame, never freed: a test's few hundred frames. */
	struct wrapped *w = malloc(sizeof *w);
	if (!w) return -1;
	w->events = events;
	w->data = data;
	return next(proxy, (event_fn *)ours, w);
}
