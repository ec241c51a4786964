import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class LongestCommonSubsequenceEnv(gymnasium.Env):
    """Find the length of the longest common subsequence of two strings: characters taken from both
    in the same order, not necessarily contiguous (0 if a string is empty or they share no
    character). Observe shows text1 and text2; build the DP table row by row with InitFirstRow and
    ComputeRow, read cells with GetCell and submit the length as an integer with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.INIT_FIRST_ROW = 1
        self.COMPUTE_ROW = 2
        self.GET_CELL = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "InitFirstRow": self.INIT_FIRST_ROW,
            "ComputeRow": self.COMPUTE_ROW,
            "GetCell": self.GET_CELL,
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
        prefix = "LongestCommonSubsequenceEnv@"
        if not env_str.startswith(prefix):
            return None
        return LongestCommonSubsequenceEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.text1 = str(options.get("text1", ""))
        self.text2 = str(options.get("text2", ""))
        # rows[i][j] = LCS length of text1[:i] and text2[:j]
        self.rows = {}
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        a, b = self.text1, self.text2
        prev = [0] * (len(b) + 1)
        for i in range(1, len(a) + 1):
            cur = [0] * (len(b) + 1)
            for j in range(1, len(b) + 1):
                if a[i - 1] == b[j - 1]:
                    cur[j] = prev[j - 1] + 1
                else:
                    cur[j] = max(prev[j], cur[j - 1])
            prev = cur
        return prev[len(b)]

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
            elif action_code == self.INIT_FIRST_ROW:
                msg = self.InitFirstRow()
            elif action_code == self.COMPUTE_ROW:
                if "i" in params:
                    msg = self.ComputeRow(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ComputeRow action."
            elif action_code == self.GET_CELL:
                if "i" in params and "j" in params:
                    msg = self.GetCell(params["i"], params["j"])
                else:
                    msg = "Error: 'i' or 'j' parameter is missing for GetCell action."
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
        Return the two strings whose longest common subsequence length is wanted. A
        subsequence keeps some characters of a string in their original order, not
        necessarily contiguous.

        Returns:
            str: JSON object with keys "text1" and "text2".

        Example Output:
            "{\"text1\": \"abcde\", \"text2\": \"ace\"}"
        """
        return json.dumps({"text1": self.text1, "text2": self.text2})

    def InitFirstRow(self):
        r"""
        Initialise row 0 of the DP table: dp[0][j] = 0 for every j (the empty prefix of
        text1 has nothing in common with any prefix of text2). Clears any other rows.

        Returns:
            str: JSON of row 0 (len(text2) + 1 zeros).

        Example Output:
            "[0, 0, 0, 0]"
        """
        self.rows = {0: [0] * (len(self.text2) + 1)}
        return json.dumps(self.rows[0])

    def ComputeRow(self, i):
        r"""
        Compute row i of the DP table from row i - 1, which must already exist.
        dp[i][0] = 0; dp[i][j] = dp[i-1][j-1] + 1 if text1[i-1] == text2[j-1],
        else max(dp[i-1][j], dp[i][j-1]).

        Args:
            i (int): row index, 1..len(text1).

        Returns:
            str: JSON of row i.

        Example Output:
            "[0, 1, 1, 1]"
        """
        i = _require_int(i, "i")
        if i < 1 or i > len(self.text1):
            raise ValueError(f"row index {i} out of range 1..{len(self.text1)}")
        if (i - 1) not in self.rows:
            raise ValueError(f"row {i - 1} has not been computed yet")
        prev = self.rows[i - 1]
        cur = [0] * (len(self.text2) + 1)
        for j in range(1, len(self.text2) + 1):
            if self.text1[i - 1] == self.text2[j - 1]:
                cur[j] = prev[j - 1] + 1
            else:
                cur[j] = max(prev[j], cur[j - 1])
        self.rows[i] = cur
        return json.dumps(cur)

    def GetCell(self, i, j):
        r"""
        Read one cell dp[i][j] of the DP table (row i must already be computed): the LCS
        length of text1[:i] and text2[:j].

        Args:
            i (int): row index, 0..len(text1).
            j (int): column index, 0..len(text2).

        Returns:
            str: the value as an integer.

        Example Output:
            "3"
        """
        i = _require_int(i, "i")
        j = _require_int(j, "j")
        if i < 0 or i > len(self.text1):
            raise ValueError(f"row index {i} out of range 0..{len(self.text1)}")
        if j < 0 or j > len(self.text2):
            raise ValueError(f"column index {j} out of range 0..{len(self.text2)}")
        if i not in self.rows:
            raise ValueError(f"row {i} has not been computed yet")
        return str(self.rows[i][j])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the length of the longest common subsequence of text1 and text2.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 3, reference answer: 3, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        texts = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        m, n = len(texts["text1"]), len(texts["text2"])
        self.step(json.dumps({"name": "InitFirstRow", "parameters": {}}))
        for i in range(1, m + 1):
            self.step(json.dumps({"name": "ComputeRow", "parameters": {"i": i}}))
        length = int(self.step(json.dumps({"name": "GetCell", "parameters": {"i": m, "j": n}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": length}}))[1]


if __name__ == "__main__":
    env = LongestCommonSubsequenceEnv.from_env_str(
        'LongestCommonSubsequenceEnv@{"text1": "abcde", "text2": "ace"}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = LongestCommonSubsequenceEnv.from_env_str(
        'LongestCommonSubsequenceEnv@{"text1": "abc", "text2": "def"}'
    )
    print(env.solve())
    print("step count:", env.step_count)
