import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class LongestCommonPrefixEnv(gymnasium.Env):
    """Find the longest common prefix shared by all words in a list (case-sensitive). Observe shows
    the words; use ShortestLength and CheckColumn and submit the prefix as a string with Done: ""
    when the words differ in their first character, when some word is empty, or when the list is
    empty."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.SHORTEST_LENGTH = 1
        self.CHECK_COLUMN = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ShortestLength": self.SHORTEST_LENGTH,
            "CheckColumn": self.CHECK_COLUMN,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "LongestCommonPrefixEnv@"
        if not env_str.startswith(prefix):
            return None
        return LongestCommonPrefixEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.words = [str(w) for w in options.get("words", [])]
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        if not self.words:
            return ""
        prefix = self.words[0]
        for word in self.words[1:]:
            while not word.startswith(prefix):
                prefix = prefix[:-1]
        return prefix

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.SHORTEST_LENGTH:
                msg = self.ShortestLength()
            elif action_code == self.CHECK_COLUMN:
                if "pos" in params:
                    msg = self.CheckColumn(params["pos"])
                else:
                    msg = "Error: 'pos' parameter is missing for CheckColumn action."
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the list of words whose longest common prefix is wanted (an empty list has the
        empty string as its common prefix).

        Returns:
            str: JSON list of strings.

        Example Output:
            "[\"flower\", \"flow\", \"flight\"]"
        """
        return json.dumps(self.words)

    def ShortestLength(self):
        r"""
        Return the length of the shortest word, an upper bound on the common prefix length
        (0 when there are no words).

        Returns:
            str: the length as an integer.

        Example Output:
            "4"
        """
        if not self.words:
            return "0"
        return str(min(len(w) for w in self.words))

    def CheckColumn(self, pos):
        r"""
        Compare the characters at position pos of all the words (vertical scanning).

        Args:
            pos (int): character position, 0..(length of the shortest word)-1.

        Returns:
            str: JSON object with "pos", "char" (the character of the first word at pos) and
            "all_match" (true if every word has that same character at pos).

        Example Output:
            "{\"pos\": 1, \"char\": \"l\", \"all_match\": true}"
        """
        pos = _require_int(pos, "pos")
        if not self.words:
            raise ValueError("there are no words")
        shortest = min(len(w) for w in self.words)
        if pos < 0 or pos >= shortest:
            if shortest == 0:
                raise ValueError("the shortest word is empty, so no position can be checked")
            raise ValueError(f"position {pos} out of range 0..{shortest - 1}")
        char = self.words[0][pos]
        all_match = all(w[pos] == char for w in self.words)
        return json.dumps({"pos": pos, "char": char, "all_match": all_match})

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (str): the longest common prefix of all the words (possibly "").

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 'fl', reference answer: 'fl', result: correct, reward=1"
        """
        if not isinstance(answer, str):
            raise ValueError("parameter 'answer' must be a string")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer!r}, reference answer: {ref_answer!r}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        self.step(json.dumps({"name": "Observe", "parameters": {}}))
        shortest = int(self.step(json.dumps({"name": "ShortestLength", "parameters": {}}))[1])
        prefix = ""
        for pos in range(shortest):
            column = json.loads(self.step(json.dumps({"name": "CheckColumn", "parameters": {"pos": pos}}))[1])
            if not column["all_match"]:
                break
            prefix += column["char"]
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": prefix}}))[1]


if __name__ == "__main__":
    env = LongestCommonPrefixEnv.from_env_str(
        'LongestCommonPrefixEnv@{"words": ["flower", "flow", "flight"]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = LongestCommonPrefixEnv.from_env_str('LongestCommonPrefixEnv@{"words": ["dog", "racecar", "car"]}')
    print(env.solve())
    print("step count:", env.step_count)
