"""Poems for the checker tests: original ones written for Taleweaver, and public-domain classics."""

SONNET_18 = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance, or nature's changing course, untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall Death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee."""  # Shakespeare, public domain

LANTERN_SONNET = """I keep a lantern lit beside the sea
for boats that left before the autumn rain;
the harbour master laughs and says to me
that nothing lost out there comes home again.
But every night I climb the narrow stair
and wipe the glass and trim the yellow wick;
the gulls are sleeping and the wind is bare,
the rocks below are black and cold and slick.
I do not know whose father I await,
or whose first love, or whose forgotten son;
I only know the hour is always late
and that the work of waiting is not done.
So let them laugh; the light is mine to keep,
and I will keep it burning while they sleep."""

VILLANELLE = """I keep the lantern burning by the door,
the night is long, the harbour out of sight,
for someone who has never come before.

The wind has swept the sand across the floor,
the gulls have folded up their wings of white;
I keep the lantern burning by the door.

I do not know what I am waiting for,
a sail, a voice, a stranger in the night,
for someone who has never come before.

The years go out like water from the shore,
and still I trim the wick and keep it bright;
I keep the lantern burning by the door.

My mother did the same, and hers before,
she taught me how to hold a little light
for someone who has never come before.

So if you wander by and hear the roar
of waves, and see me holding on so tight,
I keep the lantern burning by the door
for someone who has never come before."""

JINGYESI = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。"  # 李白《静夜思》
JINGYESI_TRADITIONAL = "床前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。"
DENG_GUANQUELOU = "白日依山尽，\n黄河入海流。\n欲穷千里目，\n更上一层楼。"  # 王之涣《登鹳雀楼》
JUEJU_DUFU = "两个黄鹂鸣翠柳，一行白鹭上青天。\n窗含西岭千秋雪，门泊东吴万里船。"  # 杜甫《绝句》
JUEJU_DUFU_TRADITIONAL = "兩個黃鸝鳴翠柳，一行白鷺上青天。\n窗含西嶺千秋雪，門泊東吳萬里船。"
ZAOFA_BAIDICHENG = "朝辞白帝彩云间，千里江陵一日还。\n两岸猿声啼不住，轻舟已过万重山。"  # 李白《早发白帝城》
