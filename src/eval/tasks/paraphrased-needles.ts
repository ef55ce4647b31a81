/**
 * Paraphrased needles: the question shares almost no content words with the needle, so that a method that keeps
 * tokens by the attention the question pays them cannot find the needle by lexical overlap (users report that
 * score-based eviction fails these). Each template's answer is drawn at random from its values, so it cannot be
 * guessed from the question.
 */
export interface ParaphrasedNeedle {
  /** The needle sentence; `{v}` is replaced by the answer. */
  needle: string;
  /** The question, worded differently from the needle. */
  question: string;
  values: readonly string[];
}

export const PARAPHRASED_NEEDLES: readonly ParaphrasedNeedle[] = [
  {
    needle: 'Marguerite hid the spare key to the boathouse inside a {v}.',
    question: 'Where is the extra key for the shed by the lake kept?',
    values: ['blue teapot', 'hollow book', 'flower pot', 'rubber boot', 'cookie tin', 'bird cage', 'sugar jar', 'music box'],
  },
  {
    needle: "The password for the old observatory's door is {v}.",
    question: 'Which word opens the entrance of the former star-gazing tower?',
    values: ['lantern', 'harbor', 'velvet', 'juniper', 'cobalt', 'meadow', 'saffron', 'thimble', 'quartz', 'willow'],
  },
  {
    needle: "Captain Ortega's ship, the {v}, sails for Lisbon at dawn.",
    question: 'What is the name of the vessel commanded by the sea officer called Ortega?',
    values: ['Silver Heron', 'Morning Star', 'Red Falcon', 'Quiet Tide', 'Golden Finch', 'Iron Gull', 'Pale Moon'],
  },
  {
    needle: 'Dr. Amara Lindqvist was born in the town of {v}.',
    question: 'Where does the physician named Lindqvist originally come from?',
    values: ['Thornbury', 'Millbrook', 'Ashcombe', 'Redhaven', 'Oakridge', 'Fernleigh', 'Stonebridge', 'Wrenfield'],
  },
  {
    needle: "The secret ingredient in Aunt Rosa's famous stew is {v}.",
    question: "What hidden component makes the renowned dish of Rosa's relative taste so good?",
    values: ['smoked paprika', 'black garlic', 'star anise', 'dried cherries', 'toasted fennel', 'orange peel', 'brown butter'],
  },
  {
    needle: 'That morning the lighthouse keeper counted exactly {v} gulls on the rocks.',
    question: 'How many seabirds did the man tending the coastal beacon see?',
    values: ['137', '248', '319', '426', '583', '672', '751', '864', '918'],
  },
  {
    needle: "Professor Halvorsen keeps the museum's master ledger in {v}.",
    question: 'Where does the academic named Halvorsen store the main record book of the gallery?',
    values: ['a locked cabinet', 'the bottom drawer', 'a leather satchel', 'the map room', 'an iron chest', 'the attic'],
  },
  {
    needle: 'Every Thursday the twins Elsa and Nils take the {v} train to the coast.',
    question: 'At what time does the rail service leave that the two siblings use weekly to reach the seaside?',
    values: ['7:15', '8:40', '9:05', '10:50', '11:25', '12:35', '14:10', '16:45'],
  },
];
