/* Training checkpoints as one unit (src/train/checkpoint.c).
 *
 * A checkpoint of step N is the pair model.safetensors + train_state.safetensors,
 * both stamped with metadata "step" = N. A save writes the pair as
 * NAME.next files (each atomically: temp file, fsync, rename), and only then
 * renames model.next and state.next over the current pair, in that order. A
 * kill at any moment leaves one of:
 *   - the old pair (+ perhaps a complete model.next: the commit had not begun);
 *   - model = N, state = old, state.next = N (killed between the two renames);
 *   - both .next complete, stamped N (killed before the first rename).
 * ckpt_recover finishes the commit in the last two cases (roll forward) and
 * discards the .next files in the first, so the directory always returns to
 * one complete checkpoint; a pair whose stamps still differ is refused whole. */
#ifndef XF_TRAIN_CHECKPOINT_H
#define XF_TRAIN_CHECKPOINT_H

#include <stddef.h>

#include "xfmr/status.h"

#define XF_CKPT_MODEL "model.safetensors"
#define XF_CKPT_STATE "train_state.safetensors"
#define XF_CKPT_NEXT ".next"

/* Path of DIR/NAME[.next] into buf (cap bytes); fails naming DIR if too long. */
xf_status ckpt_path(char *buf, size_t cap, const char *dir, const char *name, int next);

/* Rename the two .next files over the current pair (model first), fsyncing
 * the directory after each. Call after both .next files are written. */
xf_status ckpt_commit(const char *dir);

/* Bring DIR back to one complete checkpoint (see above) and check that the
 * pair's stamps agree. *note (may be NULL) receives a sentence when something
 * was repaired ("" otherwise). Files without a stamp (checkpoints written
 * before stamping) are accepted as they are. */
xf_status ckpt_recover(const char *dir, char *note, size_t cap);

/* Test hook for aiming kills inside a save: with XFMR_TEST_SAVE_DELAY_MS set,
 * sleeps that long at each stage of the write path (never otherwise). */
void ckpt_test_delay(void);

#endif
