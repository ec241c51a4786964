import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


def _require_bool(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"parameter '{name}' must be a boolean (true or false)")
    return value


class WordBreakEnv(gymnasium.Env):
    """Decide whether a string can be split into a sequence of dictionary words, each word usable
    any number of times (the empty string counts as splittable). Observe shows the string and the
    words; decide prefix by prefix with ComputePrefix (WordsEndingAt and GetPrefix help) and submit
    true or false (a JSON boolean) with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.WORDS_ENDING_AT = 1
        self.COMPUTE_PREFIX = 2
        self.GET_PREFIX = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "WordsEndingAt": self.WORDS_ENDING_AT,
            "ComputePrefix": self.COMPUTE_PREFIX,
            "GetPrefix": self.GET_PREFIX,
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
        prefix = "WordBreakEnv@"
        if not env_str.startswith(prefix):
            return None
        return WordBreakEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.s = str(options.get("s", ""))
        self.words = [str(w) for w in options.get("words", [])]
        # distinct non-empty dictionary words in a fixed (sorted) order
        self._dictionary = sorted(set(w for w in self.words if w))
        # can[i] = whether s[:i] splits into dictionary words; None until computed
        self.can = [None] * (len(self.s) + 1)
        self.can[0] = True
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def _ending_at(self, i):
        return [w for w in self._dictionary if len(w) <= i and self.s[i - len(w):i] == w]

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        n = len(self.s)
        ok = [True] + [False] * n
        for i in range(1, n + 1):
            for w in self._dictionary:
                start = i - len(w)
                if start >= 0 and ok[start] and self.s[start:i] == w:
                    ok[i] = True
                    break
        return ok[n]

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
            elif action_code == self.WORDS_ENDING_AT:
                if "i" in params:
                    msg = self.WordsEndingAt(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for WordsEndingAt action."
            elif action_code == self.COMPUTE_PREFIX:
                if "i" in params:
                    msg = self.ComputePrefix(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ComputePrefix action."
            elif action_code == self.GET_PREFIX:
                if "i" in params:
                    msg = self.GetPrefix(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for GetPrefix action."
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

    def _check_position(self, i, lowest):
        i = _require_int(i, "i")
        if i < lowest or i > len(self.s):
            raise ValueError(f"position {i} out of range {lowest}..{len(self.s)}")
        return i

    # --- tools ---
    def Observe(self):
        r"""
        Return the string and the dictionary. The question is whether the whole string can
        be split into a sequence of one or more dictionary words (each word may be reused
        any number of times; the empty string counts as splittable).

        Returns:
            str: JSON object with keys "s" and "words".

        Example Output:
            "{\"s\": \"leetcode\", \"words\": [\"leet\", \"code\"]}"
        """
        return json.dumps({"s": self.s, "words": self.words})

    def WordsEndingAt(self, i):
        r"""
        List the dictionary words w that end exactly at position i of the string, i.e.
        s[i - len(w):i] == w, in alphabetical order.

        Args:
            i (int): end position (exclusive), 0..len(s).

        Returns:
            str: JSON list of words.

        Example Output:
            "[\"code\"]"
        """
        i = self._check_position(i, 0)
        return json.dumps(self._ending_at(i))

    def ComputePrefix(self, i):
        r"""
        Decide whether the prefix s[:i] can be split into dictionary words:
        can[i] is true if some dictionary word w ends at position i and can[i - len(w)] is
        true. can[0] is true from the start; can[i - 1] (and hence every shorter prefix)
        must already be computed, so call this for 1, 2, ..., len(s) in order.

        Args:
            i (int): prefix length, 0..len(s) (0 is the empty prefix, always true).

        Returns:
            str: JSON object with the result and the words that complete a split ending at i.

        Example Output:
            "{\"i\": 8, \"can_split\": true, \"via\": [\"code\"]}"
        """
        i = self._check_position(i, 0)
        if i == 0:
            return json.dumps({"i": 0, "can_split": True, "via": []})
        if self.can[i - 1] is None:
            raise ValueError(f"prefix length {i - 1} must be computed before {i}")
        via = [w for w in self._ending_at(i) if self.can[i - len(w)]]
        self.can[i] = len(via) > 0
        return json.dumps({"i": i, "can_split": self.can[i], "via": via})

    def GetPrefix(self, i):
        r"""
        Read the already computed answer for the prefix s[:i].

        Args:
            i (int): prefix length, 0..len(s).

        Returns:
            str: "true" if s[:i] can be split into dictionary words, else "false".

        Example Output:
            "true"
        """
        i = self._check_position(i, 0)
        if self.can[i] is None:
            raise ValueError(f"prefix length {i} has not been computed yet")
        return json.dumps(self.can[i])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (bool): true if the whole string can be split into dictionary words.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: true, reference answer: true, result: correct, reward=1"
        """
        answer = _require_bool(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {json.dumps(answer)}, reference answer: {json.dumps(ref_answer)}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        n = len(task["s"])
        for i in range(1, n + 1):
            self.step(json.dumps({"name": "ComputePrefix", "parameters": {"i": i}}))
        result = json.loads(self.step(json.dumps({"name": "GetPrefix", "parameters": {"i": n}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": result}}))[1]


if __name__ == "__main__":
    env = WordBreakEnv.from_env_str('WordBreakEnv@{"s": "leetcode", "words": ["leet", "code"]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = WordBreakEnv.from_env_str(
        'WordBreakEnv@{"s": "catsandog", "words": ["cats", "dog", "sand", "and", "cat"]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
