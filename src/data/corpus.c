/* The built-in corpus: procedurally generated children's stories (xfmr/data.h).
 *
 * Every word here was written for this file; nothing is copied from elsewhere.
 * A story is a cast (main character A, friend F, parent P, grandparent G,
 * gift recipient R), an object, a place and one of ten plots. A plot is a list
 * of beats; each beat picks one of a few sentence templates. Templates are
 * expanded with slots in braces:
 *   {A} {F} {P} {G} {R}          name ("Lily", "Mom", "Grandpa")
 *   {A's}                        possessive name ("Lily's")
 *   {A.he} {A.He} {A.him} {A.his} {A.His} {A.himself} {A.kind} {A.desc}
 *                                pronouns by gender; kind "girl"; desc "curious girl"
 *   {p} {g}                      "mom"/"dad", "grandma"/"grandpa" (as in "her mom")
 *   {obj} {noun}                 "red kite", "kite"
 *   {place} {at place}           "park", "in the park"
 *   {home} {hobby} {day} {happy} {sad} {scared}   picked afresh at each use
 *   {x0} .. {x7}                 plot-specific phrases
 *   {a SLOT}                     the slot with "a"/"an" in front
 * A slot's text may itself hold slots. The first letter of every sentence is
 * capitalised. Paragraphs and stories are separated by one blank line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/strbuf.h"
#include "xfmr/data.h"

/* ---- vocabulary -------------------------------------------------------------- */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const girl_names[] = {
    "Lily", "Mia",   "Anna",  "Sara",   "Emma",  "Zoe",    "Lucy",  "Rosa",  "Nora",  "Ella",
    "Ruby", "Maya",  "Kate",  "Amy",    "Ivy",   "Hana",   "Tess",  "Jane",  "Leah",  "Clara",
    "Daisy", "Molly", "Sophie", "Grace", "Alice", "Hannah", "Julia", "Nina", "Olive", "Wendy"};
static const char *const boy_names[] = {
    "Tom",   "Ben",   "Max",   "Sam",   "Leo",   "Jack",  "Finn",  "Theo",  "Noah",  "Eli",
    "Owen",  "Jake",  "Luke",  "Ned",   "Tim",   "Oscar", "Hugo",  "Kai",   "Dan",   "Paul",
    "Billy", "Henry", "Felix", "Adam",  "Jonah", "Oliver", "Peter", "Ryan", "Toby",  "Victor"};
static const char *const animal_kinds[] = {"bunny",  "rabbit", "mouse", "fox",      "bear",
                                           "puppy",  "kitten", "duck",  "squirrel", "owl",
                                           "frog",   "turtle", "pig",   "lamb",     "hedgehog"};
static const char *const char_adjs[] = {"little", "kind",     "curious", "brave",   "happy",
                                        "clever", "cheerful", "gentle",  "playful", "friendly"};
static const char *const human_homes[] = {
    "in a small house near the forest",     "in a little town by the sea",
    "on a big farm with many animals",      "in a cozy house with a red door",
    "in a yellow house at the end of the street", "in a tall building in the city",
    "in a little village near the hills",   "in a white house with a big garden"};
static const char *const animal_homes[] = {
    "in a cozy burrow under an old oak tree", "in a little nest high in a tree",
    "in a warm den at the edge of the forest", "near a quiet pond in the woods",
    "in a small hole under the garden fence",  "in a soft bed of leaves in the meadow"};
static const char *const hobbies[] = {
    "play outside",        "read books",          "sing songs",
    "draw pictures",       "run in the grass",    "look at the clouds",
    "build towers with blocks", "dance in the sun", "jump in puddles",
    "pick flowers",        "play with {A.his} {noun}", "help {A.his} {p} in the garden",
    "climb trees",         "splash in the water", "count the stars at night"};
static const char *const obj_nouns[] = {
    "ball",  "kite",   "toy car",   "teddy bear", "doll",      "book",     "hat",
    "drum",  "blanket", "balloon",  "bike",       "toy boat",  "train",    "scarf",
    "truck", "yo-yo",  "jump rope", "umbrella",   "robot",     "whistle",  "wagon",
    "backpack", "spinning top", "puzzle"};
static const char *const obj_adjs[] = {"red",   "blue",  "green",  "yellow", "pink",
                                       "purple", "orange", "big",  "small",  "shiny",
                                       "soft",  "old",   "new",    "pretty", "striped",
                                       "bright"};
typedef struct {
    const char *prep, *noun;
} place;
static const place places[] = {
    {"in", "park"},  {"in", "forest"}, {"in", "garden"},     {"at", "beach"},
    {"on", "farm"},  {"by", "lake"},   {"on", "hill"},       {"by", "river"},
    {"in", "meadow"}, {"at", "playground"}, {"in", "backyard"}, {"by", "pond"},
    {"in", "woods"}};
static const char *const days[] = {"One day",         "One sunny day",    "One morning",
                                   "One bright morning", "One afternoon", "One warm afternoon",
                                   "One fine day",    "One summer day",   "One spring morning",
                                   "Early one morning"};
static const char *const happy_words[] = {"happy", "glad", "very happy", "so happy"};
static const char *const sad_words[] = {"sad", "very sad", "upset", "unhappy"};
static const char *const scared_words[] = {"scared", "afraid", "very scared", "frightened"};
static const char *const spots[] = {
    "under a bush",      "behind a big rock",     "in the tall grass",
    "under a pile of leaves", "next to the fence", "behind the slide",
    "inside an old log", "under a wooden bench",  "by a little stream",
    "in a patch of flowers"};

/* ---- story state and template expansion ---------------------------------------- */

typedef struct {
    const char *name, *kind, *desc_adj;
    int female;
} who;

typedef struct {
    xf_strbuf *b;
    xf_rng *rng;
    who A, F, P, G, R;
    int animal; /* the cast are animals */
    const char *obj_adj, *noun;
    const place *pl;
    const char *x[8];
    int para_open; /* the current paragraph has a sentence */
} story;

static size_t pick_i(story *s, size_t n) { return (size_t)xf_rng_below(s->rng, n); }
static const char *pick(story *s, const char *const *list, size_t n) { return list[pick_i(s, n)]; }
#define PICK(s, list) pick((s), (list), COUNT(list))
static int chance(story *s, unsigned percent) { return xf_rng_below(s->rng, 100) < percent; }

static void expand(story *s, const char *t, int depth);

static void expand_who(story *s, const who *w, const char *field) {
    xf_strbuf *b = s->b;
    static const char *const forms[][3] = {
        /* field, female, male */
        {"he", "she", "he"},   {"He", "She", "He"},   {"him", "her", "him"},
        {"his", "her", "his"}, {"His", "Her", "His"}, {"himself", "herself", "himself"}};
    if (!*field) {
        sb_cstr(b, w->name);
        return;
    }
    if (strcmp(field, "'s") == 0) {
        sb_cstr(b, w->name);
        sb_cstr(b, "'s");
        return;
    }
    if (field[0] != '.') goto unknown;
    field++;
    for (size_t i = 0; i < COUNT(forms); i++)
        if (strcmp(field, forms[i][0]) == 0) {
            sb_cstr(b, w->female ? forms[i][1] : forms[i][2]);
            return;
        }
    if (strcmp(field, "kind") == 0) {
        sb_cstr(b, w->kind);
        return;
    }
    if (strcmp(field, "desc") == 0) {
        sb_cstr(b, w->desc_adj);
        sb_cstr(b, " ");
        sb_cstr(b, w->kind);
        return;
    }
unknown:
    sb_cstr(b, "{?}");
}

/* Write the text of slot `key` (no braces). */
static void expand_slot(story *s, const char *key, int depth) {
    xf_strbuf *b = s->b;
    const who *w = NULL;
    switch (key[0]) {
    case 'A': w = &s->A; break;
    case 'F': w = &s->F; break;
    case 'P': w = &s->P; break;
    case 'G': w = &s->G; break;
    case 'R': w = &s->R; break;
    default: break;
    }
    if (w && (key[1] == '\0' || key[1] == '.' || key[1] == '\'')) {
        expand_who(s, w, key + 1);
        return;
    }
    const char *lit = NULL;  /* written as is */
    const char *tmpl = NULL; /* expanded further */
    if (strcmp(key, "p") == 0) {
        lit = s->P.kind;
    } else if (strcmp(key, "g") == 0) {
        lit = s->G.kind;
    } else if (strcmp(key, "noun") == 0) {
        lit = s->noun;
    } else if (strcmp(key, "obj") == 0) {
        sb_cstr(b, s->obj_adj);
        sb_cstr(b, " ");
        lit = s->noun;
    } else if (strcmp(key, "place") == 0) {
        lit = s->pl->noun;
    } else if (strcmp(key, "at place") == 0) {
        sb_cstr(b, s->pl->prep);
        sb_cstr(b, " the ");
        lit = s->pl->noun;
    } else if (strcmp(key, "desc") == 0) {
        expand_who(s, &s->A, ".desc");
        return;
    } else if (strcmp(key, "home") == 0) {
        tmpl = s->animal ? PICK(s, animal_homes) : PICK(s, human_homes);
    } else if (strcmp(key, "hobby") == 0) {
        tmpl = PICK(s, hobbies);
    } else if (strcmp(key, "day") == 0) {
        lit = PICK(s, days);
    } else if (strcmp(key, "happy") == 0) {
        lit = PICK(s, happy_words);
    } else if (strcmp(key, "sad") == 0) {
        lit = PICK(s, sad_words);
    } else if (strcmp(key, "scared") == 0) {
        lit = PICK(s, scared_words);
    } else if (key[0] == 'x' && key[1] >= '0' && key[1] <= '7' && key[2] == '\0') {
        tmpl = s->x[key[1] - '0'];
    }
    if (tmpl)
        expand(s, tmpl, depth + 1);
    else
        sb_cstr(b, lit ? lit : "{?}");
}

static int is_vowel(char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'A' || c == 'E' ||
           c == 'I' || c == 'O' || c == 'U';
}

/* Append template t with its slots filled in. */
static void expand(story *s, const char *t, int depth) {
    xf_strbuf *b = s->b;
    if (depth > 4) {
        sb_cstr(b, "{?}");
        return;
    }
    while (*t) {
        const char *open = strchr(t, '{');
        if (!open) {
            sb_cstr(b, t);
            return;
        }
        sb_put(b, t, (size_t)(open - t));
        const char *close = strchr(open, '}');
        char key[40];
        size_t kl = close ? (size_t)(close - open - 1) : 0;
        if (!close || kl >= sizeof key) {
            sb_cstr(b, "{?}");
            return;
        }
        memcpy(key, open + 1, kl);
        key[kl] = '\0';
        t = close + 1;
        if (key[0] == 'a' && key[1] == ' ') {
            /* expand, then put "a " or "an " in front of what was written */
            size_t at = b->len;
            expand_slot(s, key + 2, depth);
            if (b->oom || b->len == at) continue;
            const char *art = is_vowel(b->p[at]) ? "an " : "a ";
            size_t al = strlen(art);
            if (!sb_reserve(b, al)) return;
            memmove(b->p + at + al, b->p + at, b->len - at);
            memcpy(b->p + at, art, al);
            b->len += al;
        } else {
            expand_slot(s, key, depth);
        }
    }
}

/* Append one of n templates as the next sentence(s) of the paragraph. */
static void say_one(story *s, const char *const *alts, size_t n) {
    xf_strbuf *b = s->b;
    if (s->para_open) sb_cstr(b, " ");
    size_t at = b->len;
    expand(s, alts[pick_i(s, n)], 0);
    if (b->oom) return;
    while (at < b->len && b->p[at] == '"') at++;
    if (at < b->len && b->p[at] >= 'a' && b->p[at] <= 'z') b->p[at] = (char)(b->p[at] - 'a' + 'A');
    s->para_open = 1;
}

#define SAY(s, ...)                                                                              \
    say_one((s), (const char *const[]){__VA_ARGS__},                                            \
            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void paragraph_end(story *s) {
    if (s->para_open) sb_cstr(s->b, "\n\n");
    s->para_open = 0;
}

/* ---- the plots ---------------------------------------------------------------- */

static void intro(story *s, int mention_friend) {
    SAY(s, "Once upon a time, there was {a desc} named {A}.",
        "Once upon a time, there lived {a desc} named {A}.", "There was once {a desc} called {A}.",
        "Once there was {a desc} named {A}.");
    SAY(s, "{A.He} lived {home}.");
    SAY(s, "{A.He} loved to {hobby}.", "Every day, {A.he} liked to {hobby}.",
        "More than anything, {A.he} loved to {hobby}.");
    if (mention_friend && chance(s, 50))
        SAY(s, "{A.His} best friend was {a F.desc} named {F}.", "{A} had a good friend named {F}.");
    paragraph_end(s);
}

static void plot_lost(story *s) {
    size_t i = pick_i(s, COUNT(spots)), j = pick_i(s, COUNT(spots) - 1),
           k = pick_i(s, COUNT(spots) - 2);
    /* three different spots */
    const char *sp[COUNT(spots)];
    memcpy(sp, spots, sizeof sp);
    s->x[0] = sp[i];
    sp[i] = sp[COUNT(spots) - 1];
    s->x[1] = sp[j];
    sp[j] = sp[COUNT(spots) - 2];
    s->x[2] = sp[k];
    intro(s, 0);
    SAY(s, "{day}, {A} went to the {place} with {A.his} {obj}.",
        "{day}, {A} took {A.his} {obj} to the {place}.");
    SAY(s, "{A.He} played with it all morning.", "{A.He} had so much fun with it.",
        "{A.He} played and played {at place}.");
    SAY(s, "But when it was time to go home, the {noun} was gone!",
        "Then {A.he} put the {noun} down to look at a butterfly. When {A.he} turned around, the "
        "{noun} was gone!",
        "But after a while, {A} could not find {A.his} {noun} anywhere.");
    SAY(s, "\"Oh no! Where is my {noun}?\" {A} cried.",
        "{A} looked around. \"Where did my {noun} go?\" {A.he} said.");
    SAY(s, "{A.He} felt {sad}.", "{A.He} was so sad that {A.he} started to cry.");
    paragraph_end(s);
    SAY(s, "Just then, {A's} friend {F} came by.", "Just then, {F} walked over.");
    SAY(s, "\"What is wrong, {A}?\" asked {F}.", "\"Why are you sad?\" {F} asked.");
    SAY(s, "\"I lost my {obj},\" said {A}.", "\"I can't find my {noun},\" {A} said.");
    SAY(s, "\"Don't worry. I will help you look for it,\" said {F}.",
        "\"Let's look for it together,\" {F} said with a smile.");
    SAY(s, "They looked {x0}. They looked {x1}. But the {noun} was not there.");
    SAY(s, "At last, {F} saw something {x2}. It was the {noun}!",
        "Then {A} saw something {x2}. It was {A.his} {noun}!");
    paragraph_end(s);
    SAY(s, "{A} was {happy}. {A.He} hugged {F} and said, \"Thank you for helping me!\"",
        "\"You found it!\" {A} said. {A.He} gave {F} a big hug.");
    if (chance(s, 60)) SAY(s, "{F} smiled. \"That is what friends are for,\" {F.he} said.");
    SAY(s, "From that day on, {A} always kept {A.his} {noun} close.",
        "After that, {A} was careful to keep {A.his} {noun} safe.");
    SAY(s, "{A} learned that good friends always help each other.",
        "{A} knew that with a good friend, no problem is too big.");
    paragraph_end(s);
}

static void plot_share(story *s) {
    intro(s, 0);
    SAY(s, "{A} had {a obj}.", "{A} got {a obj} from {A.his} {g}.");
    SAY(s, "{A.He} loved it very much.", "It was {A.his} favorite toy.");
    SAY(s, "{day}, {F} came to play {at place}.",
        "{day}, {A} took the {noun} to the {place}, where {A.he} met {F}.");
    SAY(s, "{F} saw the {noun} and asked, \"Can I play with your {noun}, please?\"",
        "\"What a nice {noun}!\" said {F}. \"Can I have a turn?\"");
    paragraph_end(s);
    SAY(s, "But {A} held it tight. \"No, it is mine!\" {A.he} said.",
        "\"No,\" said {A}. \"I want to play with it by myself.\"");
    SAY(s, "{F} looked {sad} and walked away.", "{F's} smile went away, and {F.he} sat down alone.");
    SAY(s, "{A} played with the {noun} alone, but it was not much fun.",
        "{A} played by {A.himself}, but it was not much fun.");
    SAY(s, "{A.He} felt lonely.", "Soon {A.he} felt lonely.");
    paragraph_end(s);
    SAY(s, "{A.His} {p} saw what happened.", "{P} came over and sat next to {A}.");
    SAY(s, "\"{A}, when we share, everyone can be happy,\" said {P}.",
        "\"Toys are more fun when you share them,\" {P} said softly.");
    SAY(s, "{A} thought about it.", "{A} thought about what {P.he} said.");
    SAY(s, "Then {A.he} ran to {F}. \"I am sorry,\" {A.he} said. \"Do you want to play with my "
           "{noun}?\"");
    paragraph_end(s);
    SAY(s, "{F} smiled a big smile. \"Yes, please!\" {F.he} said.",
        "{F's} face lit up. \"Thank you, {A}!\" {F.he} said.");
    SAY(s, "The two friends played with the {noun} until the sun went down.",
        "They took turns with the {noun} and laughed all afternoon.");
    SAY(s, "{A} learned that sharing is caring.",
        "{A} learned that sharing makes everyone happy, even {A.himself}.");
    paragraph_end(s);
}

typedef struct {
    const char *name, *event, *comfort, *action;
} fear;
static const fear fears[] = {
    {"the dark", "One night, the lights went out, and the whole house was dark.",
     "The dark is just the night. Your room is the same, only the lights are off. And look, the "
     "moon is keeping watch.",
     "{A.He} looked out the window and saw the moon shining bright."},
    {"the loud thunder", "One night, there was a big storm. The thunder went boom, boom, boom!",
     "Thunder is just the sound the clouds make. It cannot hurt you, and the storm will pass.",
     "{A.He} listened to the rain and counted the booms with {A.his} {p}. Soon the storm went "
     "away."},
    {"the deep water", "{day}, {A's} family went to the lake to swim.",
     "I will hold your hand the whole time. We will go slowly.",
     "{A.He} held {P's} hand and stepped into the water. It was cool and nice, and soon {A.he} "
     "was kicking and splashing."},
    {"the big dog next door", "{day}, the big dog next door ran up to the fence and barked.",
     "That dog is just saying hello. His name is Buster, and he is very friendly.",
     "{A.He} held out {A.his} hand. Buster sniffed it and wagged his tail. Then he licked {A's} "
     "fingers!"},
    {"the tall slide", "{day}, {A} went to the playground with {A.his} {p}. All the other kids "
                       "were going down the tall slide.",
     "You can do it. I will wait for you at the bottom.",
     "{A.He} climbed up the ladder, one step at a time. Then {A.he} sat down and slid all the way "
     "down. Whee!"},
    {"the first day at a new school", "Soon it was {A's} first day at a new school.",
     "Everyone feels a little scared on the first day. Just be yourself, and you will make "
     "friends.",
     "{A.He} walked into the classroom. A kind {F.kind} named {F} waved and asked {A} to sit next "
     "to {F.him}."}};

static void plot_fear(story *s) {
    const fear *f = &fears[pick_i(s, COUNT(fears))];
    s->x[0] = f->name;
    s->x[1] = f->event;
    s->x[2] = f->comfort;
    s->x[3] = f->action;
    intro(s, strstr(f->action, "{F") == NULL); /* that friend would be new at school */
    SAY(s, "{A} was afraid of {x0}.", "There was one thing {A} did not like: {x0}.");
    if (chance(s, 50))
        SAY(s, "Just thinking about it made {A.his} tummy feel funny.",
            "{A.He} did not like to talk about it.");
    paragraph_end(s);
    SAY(s, "{x1}");
    SAY(s, "{A} ran to {A.his} {p}. {A.He} was {scared}.",
        "{A} hid behind {A.his} {p}. {A.He} felt {scared}.");
    SAY(s, "\"What is wrong, {A}?\" asked {P}.");
    SAY(s, "\"I am scared of {x0},\" said {A}.", "\"I don't like {x0},\" {A} said in a small voice.");
    if (chance(s, 50)) SAY(s, "{P} gave {A} a hug.", "{P} knelt down next to {A}.");
    SAY(s, "{P} smiled and said, \"{x2}\"", "\"{x2}\" said {P}.");
    paragraph_end(s);
    SAY(s, "{A} took a deep breath.", "{A} wanted to be brave.");
    SAY(s, "{x3}");
    SAY(s, "It was not so scary after all!", "{A} smiled. It was not scary at all!");
    paragraph_end(s);
    SAY(s, "After that, {A} was not afraid of {x0} anymore.",
        "From then on, {x0} did not scare {A} anymore.");
    SAY(s, "{A} learned that being brave means trying, even when you are scared.",
        "{A} learned that things are often less scary when you face them.");
    paragraph_end(s);
}

typedef struct {
    const char *who, *sound, *help, *care, *end, *after;
} rescue;
static const rescue rescues[] = {
    {"a little bird with a hurt wing", "a soft chirp",
     "{A} gently picked up the bird and carried it home in {A.his} hat.",
     "{A} and {A.his} {p} gave the bird seeds and water every day. Soon its wing was all better.",
     "One morning, the bird flapped its wings and flew up into the sky.",
     "The next day, the bird came back and sang a happy song at {A's} window."},
    {"a small kitten stuck in a thorny bush", "a tiny mew",
     "{A} carefully pulled the branches apart, and the kitten jumped out.",
     "The kitten was hungry, so {A} gave it some milk.",
     "Then a mother cat came running. The kitten ran to her, and they went home together.",
     "The next day, the kitten came to visit {A} and purred on {A.his} lap."},
    {"a baby duck who had lost its mother", "a sad little quack",
     "{A} picked up the duckling and walked along the water to look for its family.",
     "They looked and looked. At last, they saw a big duck with five little ducklings near the "
     "bank.",
     "{A} put the duckling down, and it swam to its mother as fast as it could.",
     "The mother duck quacked loudly, as if to say thank you."},
    {"a tiny turtle lying on its back", "a small scratching sound",
     "{A} gently turned the turtle over.",
     "{A.He} carried it to the edge of the pond, where the grass was soft and wet.",
     "The turtle slowly walked into the water and swam away.",
     "Every time {A} came to the pond after that, a little turtle poked its head up to say hello."},
    {"a puppy with its leg caught in an old fence", "a little whine",
     "{A} carefully lifted the wire, and the puppy pulled its leg free.",
     "{A} saw a tag on its collar. It said the puppy lived on Maple Street.",
     "{A} and {A.his} {p} walked the puppy home. Its family was so glad to see it.",
     "They gave {A} a big thank you and a plate of warm cookies."}};

static void plot_rescue(story *s) {
    const rescue *r = &rescues[pick_i(s, COUNT(rescues))];
    s->x[0] = r->who;
    s->x[1] = r->sound;
    intro(s, 1);
    SAY(s, "{day}, {A} was walking {at place} when {A.he} heard {x1}.");
    SAY(s, "{A.He} looked down and saw {x0}.", "{A.He} looked around and found {x0}.");
    SAY(s, "\"Oh no, you poor thing,\" said {A}.",
        "\"Don't be scared,\" {A} said softly. \"I will help you.\"");
    paragraph_end(s);
    SAY(s, r->help);
    SAY(s, r->care);
    paragraph_end(s);
    SAY(s, r->end);
    SAY(s, r->after);
    SAY(s, "{A} smiled. {A.He} knew that being kind to animals is always the right thing to do.",
        "{A} felt warm inside. Helping others made {A.him} {happy}.");
    paragraph_end(s);
}

typedef struct {
    const char *what, *short_name, *make, *oops, *fix, *result;
} gift;
static const gift gifts[] = {
    {"cake", "cake", "{A} got out flour, eggs, sugar and a big bowl.",
     "But then {A.he} bumped the bowl, and the flour spilled all over the floor!",
     "{F} helped {A} clean up the mess. Then they mixed the flour, eggs and sugar again, very "
     "carefully.",
     "The cake came out of the oven warm and sweet."},
    {"birthday card", "card",
     "{A} got out paper, glue and crayons. {A.He} drew a big heart and lots of flowers.",
     "But then the cat jumped on the table and knocked over a cup of water. The card got all wet!",
     "{F} had an idea. \"Let's make a new one together,\" {F.he} said. This time they drew a sun, "
     "a rainbow and two smiling faces.",
     "The new card was even prettier than the first one."},
    {"picture", "picture",
     "{A} got out paper and paints. {A.He} painted a big yellow sun and a little house.",
     "But then the wind blew the picture off the table, and it landed in a puddle!",
     "{F} helped {A} paint a new picture. They added a tree, a dog and a bright blue sky.",
     "When the paint was dry, the picture looked wonderful."},
    {"necklace", "necklace",
     "{A} got a string and a box of colorful beads. {A.He} put the beads on the string, one by "
     "one.",
     "But then the string broke, and the beads rolled all over the floor!",
     "{F} helped {A} find every bead. Then they put them on a new, strong string.",
     "The necklace was shiny and bright."},
    {"batch of cookies", "cookies", "{A} got out flour, butter and chocolate chips.",
     "But then {A.he} forgot the cookies in the oven, and they got burnt!",
     "{F} helped {A} make a new batch, and this time they watched the oven the whole time.",
     "The cookies came out warm and golden."}};

static void plot_gift(story *s) {
    const gift *g = &gifts[pick_i(s, COUNT(gifts))];
    s->R = chance(s, 50) ? s->P : s->G;
    s->x[0] = g->what;
    s->x[5] = g->short_name;
    intro(s, 1);
    SAY(s, "{day}, {A} remembered that it was {R's} birthday.",
        "Soon it would be {R's} birthday.");
    SAY(s, "{A} wanted to make {a x0} for {A.his} {R.kind}.",
        "{A.He} wanted to give {R} something special, so {A.he} decided to make {a x0}.");
    paragraph_end(s);
    SAY(s, g->make);
    SAY(s, g->oops);
    SAY(s, "{A} felt like crying. \"Now I have nothing to give,\" {A.he} said.",
        "{A} sat down on the floor. {A.He} felt {sad}.");
    paragraph_end(s);
    SAY(s, "Just then, {F} came to visit.", "Just then, there was a knock at the door. It was {F}.");
    SAY(s, g->fix);
    SAY(s, g->result);
    paragraph_end(s);
    SAY(s, "When {R} saw the {x5}, {R.he} smiled a big smile.",
        "{A} gave the {x5} to {R}. {R} smiled a big smile.");
    SAY(s, "\"This is the best present ever!\" {R.he} said, and gave {A} a big hug.",
        "\"Thank you, {A}. I love it!\" {R.he} said.");
    SAY(s, "{A} learned that a gift made with love is the best gift of all.",
        "{A} learned that mistakes are okay, and that friends make everything better.");
    paragraph_end(s);
}

static const char *const race_goals[] = {"big oak tree", "old red barn", "top of the hill",
                                         "little bridge", "end of the path"};
static const char *const race_stops[] = {"look at a pretty butterfly", "eat some berries",
                                         "take a little nap under a tree",
                                         "watch the ducks on the pond",
                                         "play with a friendly puppy"};

static void plot_race(story *s) {
    s->x[0] = PICK(s, race_goals);
    s->x[1] = PICK(s, race_stops);
    intro(s, 1);
    SAY(s, "{day}, {A} and {F} were playing {at place}.");
    SAY(s, "\"Let's have a race to the {x0}!\" said {F}.");
    if (chance(s, 60))
        SAY(s, "\"I am the fastest, so I will win,\" {F.he} said.",
            "\"I will win for sure,\" {F.he} said with a laugh.");
    paragraph_end(s);
    SAY(s, "\"Ready, set, go!\" said {A}.");
    SAY(s, "{F} ran very fast, and soon {F.he} was far ahead.");
    SAY(s, "{A} was not as fast, but {A.he} kept going, step by step.");
    SAY(s, "Then {F} stopped to {x1}.");
    SAY(s, "{F.He} thought, \"I am so far ahead. I have lots of time.\"");
    paragraph_end(s);
    SAY(s, "But {A} did not stop. {A.He} walked and walked.");
    SAY(s, "When {F} looked up, {A} was almost at the {x0}!");
    SAY(s, "{F} ran as fast as {F.he} could, but it was too late. {A} won the race!");
    paragraph_end(s);
    SAY(s, "{F} was surprised. \"How did you win?\" {F.he} asked.");
    SAY(s, "{A} smiled and said, \"I did not give up, and I did not stop.\"");
    SAY(s, "The two friends laughed and walked home together.");
    SAY(s, "That day, {F} learned that slow and steady wins the race.",
        "That day, {F} learned that being fast is not enough. You have to keep going.");
    paragraph_end(s);
}

typedef struct {
    const char *idea, *done;
} indoor;
static const indoor indoors[] = {
    {"build a fort with blankets and pillows",
     "They put blankets over the chairs and crawled inside. It was dark and cozy, like a secret "
     "cave."},
    {"bake some cookies",
     "They mixed the dough and put the cookies in the oven. Soon the whole house smelled sweet."},
    {"paint pictures", "They painted a big sun, a blue sky and lots of flowers."},
    {"read a story together",
     "They sat together on the couch and read a story about a brave little dragon."},
    {"make a puppet show", "They made puppets out of old socks and put on a funny show."}};

static void plot_rain(story *s) {
    const indoor *in = &indoors[pick_i(s, COUNT(indoors))];
    s->x[0] = in->idea;
    s->x[1] = in->done;
    intro(s, 1);
    SAY(s, "{day}, {A} wanted to go to the {place} to play with {A.his} {obj}.");
    SAY(s, "But when {A.he} looked out the window, it was raining.",
        "But then dark clouds came, and it started to rain.");
    SAY(s, "\"Oh no,\" said {A}. \"Now I can't play outside.\"");
    SAY(s, "{A.He} sat by the window and felt {sad}.");
    paragraph_end(s);
    SAY(s, "{A.His} {p} came and sat next to {A.him}.");
    SAY(s, "\"I have an idea,\" said {P}. \"Let's {x0}!\"");
    SAY(s, "{x1}");
    paragraph_end(s);
    SAY(s, "They had so much fun that {A} forgot all about the rain.");
    SAY(s, "When the rain stopped, {A} looked outside. There was a big rainbow in the sky!");
    SAY(s, "{A} learned that every day can be a fun day.",
        "{A} learned that you can find fun anywhere, even on a rainy day.");
    paragraph_end(s);
}

typedef struct {
    const char *who, *where, *cry, *rescue, *name, *thanks;
} stuck;
static const stuck stucks[] = {
    {"a little kitten", "at the top of a tall tree", "It meowed and meowed.",
     "{P} got a long ladder. {P.He} climbed up slowly and carefully brought the kitten down.",
     "kitten", "The kitten purred and rubbed against {A's} legs."},
    {"a baby goat", "on a high rock by the river", "It bleated and bleated.",
     "{P} climbed up the rocks, picked up the little goat and carried it down.", "little goat",
     "The little goat jumped and kicked its legs with joy."},
    {"a small puppy", "at the bottom of an old ditch", "It whined and whined.",
     "{P} lay down on the grass, reached into the ditch and lifted the puppy out.", "puppy",
     "The puppy wagged its tail and licked {A's} face."},
    {"a little bird", "in a net by the garden fence", "It chirped and flapped its wings.",
     "{P} cut the net with a pair of scissors, very carefully, and the bird was free.", "bird",
     "The bird sang a happy song and flew away."}};

static void plot_stuck(story *s) {
    const stuck *k = &stucks[pick_i(s, COUNT(stucks))];
    s->x[0] = k->who;
    s->x[1] = k->where;
    s->x[2] = k->name;
    intro(s, 0);
    SAY(s, "{day}, {A} was playing {at place} when {A.he} saw {x0} {x1}.");
    SAY(s, "It was stuck!", "It could not get out.");
    SAY(s, k->cry);
    SAY(s, "{A} wanted to help, but {A.he} was too small.");
    SAY(s, "So {A.he} ran home as fast as {A.he} could. \"{P}! {P}! Come quick!\" {A.he} called.");
    paragraph_end(s);
    SAY(s, k->rescue);
    SAY(s, "The {x2} was safe!");
    SAY(s, k->thanks);
    paragraph_end(s);
    SAY(s, "\"You did the right thing, {A},\" said {P}. \"When you can't help all alone, it is "
           "smart to ask for help.\"");
    SAY(s, "{A} felt proud.", "{A} felt very proud.");
    SAY(s, "{A} learned that asking for help is a brave thing to do.");
    paragraph_end(s);
}

static const char *const breakables[][2] = {{"little glass bird", "glass bird"},
                                            {"shiny snow globe", "snow globe"},
                                            {"old music box", "music box"},
                                            {"blue clay pot", "clay pot"},
                                            {"toy plane made of wood", "toy plane"}};

static void plot_broken(story *s) {
    size_t i = pick_i(s, COUNT(breakables));
    s->x[0] = breakables[i][0];
    s->x[1] = breakables[i][1];
    intro(s, 0);
    SAY(s, "{day}, {A} went to play at {F's} house.");
    SAY(s, "{F} had {a x0} on a high shelf. It was a gift from {F.his} {g}.");
    SAY(s, "{F} loved it more than anything.", "It was {F.his} favorite thing in the whole world.");
    paragraph_end(s);
    SAY(s, "When {F} went to get a snack, {A} reached up to look at the {x1}.");
    SAY(s, "Oops! It slipped out of {A.his} hands and fell on the floor.");
    SAY(s, "Crack! The {x1} broke into two pieces.");
    SAY(s, "{A} was {scared}. {A.He} thought, \"What if {F} is angry with me?\"");
    SAY(s, "For a moment, {A.he} wanted to hide the pieces under the bed.");
    paragraph_end(s);
    SAY(s, "But then {A} remembered what {A.his} {p} always said: \"It is always best to tell "
           "the truth.\"");
    SAY(s, "When {F} came back, {A} said, \"{F}, I am sorry. I broke your {x1}.\"");
    paragraph_end(s);
    SAY(s, "{F} was {sad} at first.");
    SAY(s, "But then {F.he} said, \"Thank you for telling me the truth. Let's fix it together.\"");
    SAY(s, "They got some glue and carefully put the pieces back together.");
    SAY(s, "The {x1} was not perfect, but it was fixed.");
    SAY(s, "{A} felt much better.");
    SAY(s, "{A} learned that telling the truth is always the right thing to do.",
        "{A} learned that being honest is better than hiding a mistake.");
    paragraph_end(s);
}

static const char *const games[] = {"tag", "hide and seek", "catch with {A's} {noun}",
                                    "in the sand", "on the swings"};

static void plot_new_friend(story *s) {
    s->x[0] = PICK(s, games);
    intro(s, 0);
    SAY(s, "{day}, a new {F.kind} came to the {place}.");
    SAY(s, "{F.His} name was {F}.");
    SAY(s, "{F} was shy. {F.He} sat all alone and did not talk to anyone.");
    paragraph_end(s);
    SAY(s, "{A} saw {F} sitting alone.");
    if (chance(s, 50)) SAY(s, "{A.He} remembered how it felt to be new.");
    SAY(s, "{A.He} walked over and said, \"Hi! My name is {A}. Do you want to play with me?\"");
    SAY(s, "{F} looked up and smiled a little. \"Yes, I would like that,\" {F.he} said.");
    paragraph_end(s);
    SAY(s, "They played {x0} all afternoon.");
    SAY(s, "{F} laughed and laughed. {F.He} was not shy anymore.");
    paragraph_end(s);
    SAY(s, "From that day on, {A} and {F} were best friends.");
    SAY(s, "{A} learned that one kind word can make a new friend.",
        "{A} learned that it is good to be kind to someone new.");
    paragraph_end(s);
}

static void (*const plots[])(story *) = {plot_lost,   plot_share, plot_fear,  plot_rescue,
                                          plot_gift,   plot_race,  plot_rain,  plot_stuck,
                                          plot_broken, plot_new_friend};

/* ---- casting ------------------------------------------------------------------- */

static void cast(story *s, who *w, const char *avoid) {
    do {
        w->female = chance(s, 50);
        w->name = w->female ? PICK(s, girl_names) : PICK(s, boy_names);
    } while (avoid && strcmp(w->name, avoid) == 0);
    w->kind = s->animal ? PICK(s, animal_kinds) : (w->female ? "girl" : "boy");
    w->desc_adj = PICK(s, char_adjs);
}

static void one_story(xf_strbuf *b, xf_rng *rng) {
    story s;
    memset(&s, 0, sizeof s);
    s.b = b;
    s.rng = rng;
    s.animal = chance(&s, 30);
    cast(&s, &s.A, NULL);
    cast(&s, &s.F, s.A.name);
    s.P.female = chance(&s, 50);
    s.P.name = s.P.female ? "Mom" : "Dad";
    s.P.kind = s.P.female ? "mom" : "dad";
    s.G.female = chance(&s, 50);
    s.G.name = s.G.female ? "Grandma" : "Grandpa";
    s.G.kind = s.G.female ? "grandma" : "grandpa";
    s.R = s.P;
    s.obj_adj = PICK(&s, obj_adjs);
    s.noun = PICK(&s, obj_nouns);
    s.pl = &places[pick_i(&s, COUNT(places))];
    plots[pick_i(&s, COUNT(plots))](&s);
}

xf_status xf_corpus_generate(char **text, size_t *len, size_t target_bytes, uint64_t seed) {
    *text = NULL;
    *len = 0;
    if (target_bytes == 0 || target_bytes > ((size_t)1 << 40))
        return xf_fail(XF_ERR_ARG, "corpus: size %zu bytes is not in [1, 2^40]", target_bytes);
    xf_rng rng;
    xf_rng_seed(&rng, seed);
    xf_strbuf b = {0};
    sb_reserve(&b, target_bytes + 4096);
    while (!b.oom && b.len < target_bytes) one_story(&b, &rng);
    if (b.oom) {
        free(b.p);
        return xf_fail(XF_ERR_OOM, "corpus: out of memory for %zu bytes", target_bytes);
    }
    /* stories end with a blank line; the text ends with a single newline */
    if (b.len >= 2 && b.p[b.len - 1] == '\n' && b.p[b.len - 2] == '\n') b.len--;
    if (!sb_reserve(&b, 1)) {
        free(b.p);
        return xf_fail(XF_ERR_OOM, "corpus: out of memory for %zu bytes", target_bytes);
    }
    b.p[b.len] = '\0';
    *text = b.p;
    *len = b.len;
    return XF_OK;
}
