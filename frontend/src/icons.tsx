// The node kinds' icons. The server names each kind's Lucide icon; only the
// icons named are imported, by an explicit map, so the bundle carries those
// and not the whole set. Icons are decorative: the text beside them names
// the node.
import {
  Antenna,
  Bot,
  Box,
  Clock,
  Code,
  CornerDownLeft,
  Database,
  Funnel,
  GitBranch,
  Globe,
  Hash,
  Hourglass,
  Layers,
  Mail,
  Merge,
  MessageCircle,
  MessageSquare,
  PhoneIncoming,
  Play,
  Rabbit,
  Radio,
  Repeat,
  Reply,
  Send,
  SendHorizontal,
  Shuffle,
  Split,
  Table,
  Timer,
  Webhook,
  Workflow,
  type LucideIcon,
} from "lucide-react";

/** The icons the node kinds name (`grep -rn 'Icon:' nodes/`). */
export const kindIcons: Record<string, LucideIcon> = {
  antenna: Antenna,
  bot: Bot,
  box: Box,
  clock: Clock,
  code: Code,
  "corner-down-left": CornerDownLeft,
  database: Database,
  filter: Funnel,
  "git-branch": GitBranch,
  globe: Globe,
  hash: Hash,
  hourglass: Hourglass,
  layers: Layers,
  mail: Mail,
  merge: Merge,
  "message-circle": MessageCircle,
  "message-square": MessageSquare,
  "phone-incoming": PhoneIncoming,
  play: Play,
  rabbit: Rabbit,
  radio: Radio,
  repeat: Repeat,
  reply: Reply,
  send: Send,
  "send-horizontal": SendHorizontal,
  shuffle: Shuffle,
  split: Split,
  table: Table,
  timer: Timer,
  webhook: Webhook,
  workflow: Workflow,
};

/** KindIcon draws a kind's icon by its Lucide name; a box for a name this
 * editor does not know yet (a kind newer than it). */
export function KindIcon({ name, size = 16 }: { name?: string; size?: number }) {
  const Icon = (name && kindIcons[name]) || Box;
  return <Icon size={size} aria-hidden="true" focusable="false" className="kind-icon" data-icon={name} />;
}
