import gymnasium
import ast
import json


def _require_str(value, name):
    if not isinstance(value, str):
        raise ValueError(f"parameter '{name}' must be a string")
    return value


class GroupAnagramsEnv(gymnasium.Env):
    """Count the anagram groups in a list of words: two words belong to the same group exactly when
    one is a rearrangement of the other's characters, so repeated words share a group and the empty
    string forms a group of its own. Observe shows the words; group them by sorted key with
    GetSortedKey, AddToGroup and CountGroups and submit the number of groups (not the groups
    themselves) as an integer with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.GET_SORTED_KEY = 1
        self.ADD_TO_GROUP = 2
        self.COUNT_GROUPS = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "GetSortedKey": self.GET_SORTED_KEY,
            "AddToGroup": self.ADD_TO_GROUP,
            "CountGroups": self.COUNT_GROUPS,
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
        prefix = "GroupAnagramsEnv@"
        if not env_str.startswith(prefix):
            return None
        return GroupAnagramsEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.words = [str(w) for w in options.get("words", [])]
        # key (sorted letters) -> list of words added under it, in insertion order
        self.groups = {}
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        keys = {"".join(sorted(w)) for w in self.words}
        return len(keys)

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
            elif action_code == self.GET_SORTED_KEY:
                if "word" in params:
                    msg = self.GetSortedKey(params["word"])
                else:
                    msg = "Error: 'word' parameter is missing for GetSortedKey action."
            elif action_code == self.ADD_TO_GROUP:
                if "key" in params and "word" in params:
                    msg = self.AddToGroup(params["key"], params["word"])
                else:
                    msg = "Error: 'key' or 'word' parameter is missing for AddToGroup action."
            elif action_code == self.COUNT_GROUPS:
                msg = self.CountGroups()
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
        Return the list of words to be grouped into anagram groups.

        Returns:
            str: JSON of the list of words.

        Example Output:
            "[\"eat\", \"tea\", \"tan\", \"ate\", \"nat\", \"bat\"]"
        """
        return json.dumps(self.words)

    def GetSortedKey(self, word):
        r"""
        Return the canonical anagram key of a word: its characters in sorted order.
        Two words are anagrams exactly when their keys are equal.

        Args:
            word (str): the word.

        Returns:
            str: the key, JSON-encoded.

        Example Output:
            "\"aet\""
        """
        word = _require_str(word, "word")
        return json.dumps("".join(sorted(word)))

    def AddToGroup(self, key, word):
        r"""
        Add a word to the anagram group with the given key (the group is created if new).
        The key must be the word's sorted characters.

        Args:
            key (str): the word's anagram key, as returned by GetSortedKey.
            word (str): the word.

        Returns:
            str: the number of words now in that group.

        Example Output:
            "3"
        """
        key = _require_str(key, "key")
        word = _require_str(word, "word")
        if "".join(sorted(word)) != key:
            raise ValueError(f"key {json.dumps(key)} is not the sorted key of word {json.dumps(word)}")
        self.groups.setdefault(key, []).append(word)
        return str(len(self.groups[key]))

    def CountGroups(self):
        r"""
        Return the number of distinct anagram groups created so far.

        Returns:
            str: the number of groups.

        Example Output:
            "3"
        """
        return str(len(self.groups))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the number of anagram groups among the words.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 3, reference answer: 3, result: correct, reward=1"
        """
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise ValueError("parameter 'answer' must be an integer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        words = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        for word in words:
            key = json.loads(self.step(json.dumps({"name": "GetSortedKey", "parameters": {"word": word}}))[1])
            self.step(json.dumps({"name": "AddToGroup", "parameters": {"key": key, "word": word}}))
        count = int(self.step(json.dumps({"name": "CountGroups", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": count}}))[1]


if __name__ == "__main__":
    env = GroupAnagramsEnv.from_env_str(
        'GroupAnagramsEnv@{"words": ["eat", "tea", "tan", "ate", "nat", "bat"]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
