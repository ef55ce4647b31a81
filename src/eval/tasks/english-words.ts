/**
 * A built-in list of common English adjectives, nouns and verbs for the RULER-style tasks (RULER draws from the
 * `wonderwords` lists, which we do not ship): word keys/values are `adjective-noun` pairs as in RULER, and
 * common-words extraction samples from all three lists. Written for this project; every word lowercase, ASCII,
 * unique within its list.
 */
const ADJECTIVES = `
able absent acid afraid agile alert alive amber ample ancient angry antique anxious aquatic arctic ashen
awake awful bad bald bare basic bitter black bland blank blind blond blue blunt bold bored brave brief bright
brisk broad broken brown bumpy busy calm candid careful casual cheap cheerful chilly civic clean clear clever
close cloudy clumsy coarse cold common cool copper cosmic cozy crazy creamy crisp crooked cruel curious curly
cute damp dark dear deep dense dim dirty distant dizzy dry dull dusty eager early earthy easy elastic elder
empty endless equal exact faint fair false famous fancy far fast fat fearless fierce filthy fine firm flat
fluffy fond foolish formal fragile frank free fresh friendly frozen full funny fuzzy gentle giant glad gloomy
glossy golden good graceful grand gray great greedy green grim gritty gross grumpy happy hard harsh hasty
healthy heavy helpful hidden high hollow honest hot huge humble hungry icy idle ill immense inner innocent
jolly juicy keen kind large late lazy lean legal level light little lively local lonely long loose loud
lovely loyal lucky lumpy mad magic major mean meek mellow merry mild misty modern modest moist muddy mute
narrow nasty native neat nervous new nice nimble noble noisy normal nosy novel numb odd oily old open orange
outer oval pale patient peaceful perfect pink plain pleasant plump polite poor popular precious pretty proud
pure purple quick quiet rapid rare raw ready real red regal rich rigid ripe rocky rough round royal rude
rural rusty sad safe salty sandy scarce secret shaggy shallow sharp shiny short shy silent silky silly
simple sleepy slim slow small smart smooth snowy soft solid sour spare spicy steady steep sticky stiff still
stormy strange strict strong sturdy subtle sudden sunny super sweet swift tall tame tart tender thick thin
tidy tiny tired tough tragic tricky true ugly unique upset urban useful vague vast velvet violet vivid
warm wary weak wealthy weary wet white whole wicked wide wild windy wise witty wooden worn young zany zealous
`;

const NOUNS = `
acorn actor agent airport album alley anchor angle animal ankle answer apple apron arch arena army arrow
artist attic aunt author avenue baby badge bag bakery ball balloon banana band bank barn barrel basket bath
battery beach bead beam bean bear beard bed bee beetle bell belt bench berry bicycle bird biscuit blanket
blossom boat body bone book boot bottle boulder bowl box bracelet branch bread brick bridge broom brother
brush bubble bucket bull bun bundle butter button cabin cable cactus cake camel camera camp candle canoe
canvas canyon cap captain car card carpet carrot cart castle cat cattle cave ceiling cellar chain chair chalk
channel chapel cheese cherry chest chicken chimney church circle city clerk cliff clock cloud clover coast
coat coffee coin collar comet cookie copper corn corner cottage cotton couch court cousin cow crab crane
crayon creek crow crown cup curtain cushion daisy dancer deer desert desk diamond dinner doctor dog doll
dolphin donkey door dragon drawer dream dress drum duck eagle ear earth egg elbow engine envelope eraser
fabric face factory falcon farm farmer feather fence ferry field finger fire fish flag flame flower flute
fog forest fork fountain fox frog fruit garage garden gate gem ghost giraffe glass glove goat gold goose
grape grass guitar hall hammer hand harbor harp hat hawk heart hedge helmet hen hill hive hook horn horse
hotel house island ivory jacket jar jelly jewel judge jungle kettle key kitchen kite kitten knee knife
knight ladder lake lamb lamp lantern leaf lemon letter library lily lion lizard lock lodge lotus magnet
mango map marble market meadow melon mirror monkey moon moose mountain mouse mug museum needle nest net
night notebook nurse oak ocean office olive onion orange orchard otter owl oyster paddle page pail paint
palace panda paper parade parcel parrot path peach pear pearl pebble pencil penguin pepper piano pickle
pie pig pigeon pillow pilot pine pirate planet plate plum pocket poet pond pony porch pot potato prince
puppy purse puzzle queen quilt rabbit radio raft rain rainbow raven ribbon rice ring river road robin
rocket roof room rope rose ruby sail sailor salad salt sand scarf school scissors sea seal seed shadow
shark sheep shelf shell ship shirt shoe shovel singer sink sister skate sky sled slipper snail snake
soap sock sofa soldier song soup spider spoon spring square squirrel stable stair star station statue
stone stove straw stream street sugar suit sun swan sweater table tail teacher teapot temple tent
thimble thread throne thunder ticket tiger timber toast tomato tool tooth torch tower town toy tractor
train tree truck trumpet tulip tunnel turkey turtle umbrella uncle valley vase violin wagon wall walnut
wand watch water whale wheat wheel whistle window wing wizard wolf wool worm yacht yard zebra
`;

const VERBS = `
accept add admire allow answer appear arrive ask bake balance bathe beg behave belong blink boast boil
borrow bounce breathe brush build bury buzz calculate camp carry carve catch charge chase cheer chew clap
climb collect comb cough count crawl cross cry dance decide deliver describe dig dive drag draw dream
drift drink drive drop earn enjoy enter escape explain explore fasten fetch fill find fix float fly fold
follow gather giggle glow grab grin grow guard guess hammer hang help hide hop hum hunt hurry imagine
invent jog join juggle jump kick kneel knit knock laugh lean learn lift listen march mend mix nod obey
open pack paddle paint pause peel pinch plant play polish pour pray pull push race reach read relax
repair rest ride rinse roar roll rush sail scream search sew shake shine shout sing sip skip sleep slide
smile sneeze sniff sort spill spin splash squeeze stack stare steer stir stretch sweep swim swing talk
taste teach tickle travel trust tumble type unlock visit wade wait walk wander wash wave whisper whistle
wink wish wobble wonder work wrap write yawn yell zoom
`;

function words(list: string): string[] {
  return [...new Set(list.split(/\s+/).filter((w) => w.length > 0))];
}

export const ENGLISH_ADJECTIVES: readonly string[] = words(ADJECTIVES);
export const ENGLISH_NOUNS: readonly string[] = words(NOUNS);
export const ENGLISH_VERBS: readonly string[] = words(VERBS);
/** Every distinct word of the three lists, sorted (RULER's common-words source is nouns + adjectives + verbs). */
export const ENGLISH_WORDS: readonly string[] = [...new Set([...ENGLISH_ADJECTIVES, ...ENGLISH_NOUNS, ...ENGLISH_VERBS])].sort();
